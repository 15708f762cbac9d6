"""Procedural lumbar-spine anatomy: the pixels of the phantom.

The classifier must learn the cue the paper's radiologist used (§3): whether a sagittal plane still
cuts the spinal canal, the spinous processes and the disc nuclei, or only pedicles, facets and
muscle. Every structure here has an axial footprint, so what a slice shows fades gradually with its
distance from the midline in mm; series with different slice spacings then make slices at +-2 and
+-3 from the mid slice genuinely hard to tell apart, as in real data.

Coordinates: a slice is rendered in its own plane, y anterior -> posterior (image columns) and z
feet -> head (image rows run head -> feet); `lateral_mm` is the plane's signed distance from the
midline. The spine is described in curved coordinates along a lordotic arc: s (mm along the
posterior wall of the vertebral bodies, cranial positive, 0 at the centre of L3) and d (mm
anterior of that wall, negative = posterior).
"""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from lss.datasets.spider import CANAL_LABEL, DISC_LABEL_BASE
from lss.phantom.protocol import Weighting

MAX_SIGNAL = 4095.0  # 12-bit pixel data (BitsStored 12)

# Mean signal of each tissue on the paper's TSE sequences, in 12-bit units before gain and bias.
# T1 is the harder modality (paper, Table 3): CSF, cord and disc differ less, and noise is higher.
_SIGNAL: dict[Weighting, dict[str, float]] = {
    "T1": dict(air=10, fat=2900, muscle=1050, marrow=2250, cortex=300, annulus=1000, nucleus=1100,
               csf=850, cord=1000, ligament=350, bowel=1500, vessel=250, joint=800, nerve=1150),
    "T2": dict(air=10, fat=2300, muscle=650, marrow=1500, cortex=180, annulus=520, nucleus=2900,
               csf=3400, cord=1350, ligament=220, bowel=1700, vessel=200, joint=2400, nerve=1300),
}  # fmt: skip  # a table: one row per weighting
_NOISE_SIGMA: dict[Weighting, tuple[float, float]] = {"T1": (170.0, 260.0), "T2": (70.0, 120.0)}

# Vertebrae from caudal to cranial, with their typical body height (mm) and relative AP depth.
_VERTEBRAE = ("S5", "S4", "S3", "S2", "S1", "L5", "L4", "L3", "L2", "L1", "T12", "T11", "T10")
_BODY_HEIGHT_MM = (10, 14, 18, 22, 27, 27, 27, 27, 26, 25, 23, 22, 21)
_BODY_DEPTH = (0.35, 0.45, 0.6, 0.75, 0.95, 1.0, 1.0, 1.0, 0.98, 0.95, 0.85, 0.8, 0.75)
# Height range (mm) of the disc above each vertebra; sacral "discs" are thin fused remnants.
_DISC_HEIGHT_MM = ((1, 2), (1, 2), (1, 2), (1, 2), (9, 12), (10, 13), (9, 12), (8, 11), (7, 10), (6, 8), (5, 7), (5, 7))
_DEGENERATION_RISK = (0, 0, 0, 0, 0.4, 0.4, 0.25, 0.2, 0.15, 0.1, 0.05, 0.05)


@dataclass(frozen=True)
class PatientAnatomy:
    """One patient's spine: sizes and shapes shared by all of their series."""

    lordosis_radius_mm: float
    lordosis_apex_mm: float  # s of the most anterior point of the lumbar curve
    lean: float  # dy/dz of the spine as a whole (posture in the scanner)
    segment_bounds_mm: np.ndarray  # (k + 1,) ascending s of the body / disc boundaries
    segment_is_disc: np.ndarray  # (k,)
    segment_hydration: np.ndarray  # (k,) 1 = healthy bright nucleus, ~0.2 = degenerated dark disc
    segment_depth_mm: np.ndarray  # (k,) AP depth of the body or disc
    body_centres_mm: np.ndarray  # (13,) s of each vertebral body centre, caudal -> cranial
    body_heights_mm: np.ndarray  # (13,)
    body_half_width_mm: float
    canal_depth_mm: float
    canal_half_width_mm: float
    conus_mm: float  # s where the spinal cord ends and the cauda equina begins
    thecal_end_mm: float  # s where the CSF-filled dural sac ends (about S2)
    spinous_length_mm: float
    spinous_half_width_mm: float
    back_depth_mm: float  # skin, posterior of the vertebral bodies' posterior wall
    subcutaneous_fat_mm: float
    psoas_scale: float
    lateral_drift_mm: tuple[float, float]  # mild scoliosis: midline shift per 100 mm of s, linear and quadratic
    sacral_bend_per_mm: float
    aorta_lateral_mm: float
    aorta_radius_mm: float

    def spine_coordinates(self, y_mm: np.ndarray, z_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(s, d, soft_d) of in-plane points; soft_d is d for the skin and muscles, which follow the spine only loosely.

        s and d project onto the posterior-wall curve y = w(z): a lean plus a parabolic lordosis (apex
        near L3-L4), bent back sharply below S1 (the sacrum).
        """
        below_sacrum = np.clip(float(self.segment_bounds_mm[_VERTEBRAE.index("S1") * 2 + 1]) - z_mm, 0, None)
        from_apex = z_mm - self.lordosis_apex_mm
        lordosis = self.lean * z_mm + from_apex**2 / (2 * self.lordosis_radius_mm)
        wall = lordosis + 0.5 * self.sacral_bend_per_mm * below_sacrum**2
        slope = self.lean + from_apex / self.lordosis_radius_mm - self.sacral_bend_per_mm * below_sacrum
        anterior = wall - y_mm
        s = z_mm - anterior * slope / (1 + slope**2)
        d = anterior / np.sqrt(1 + slope**2)
        return s.astype(np.float32), d.astype(np.float32), (0.5 * lordosis - y_mm).astype(np.float32)

    def body_centre_mm(self, vertebra: str) -> float:
        return float(self.body_centres_mm[_VERTEBRAE.index(vertebra)])

    def lateral_drift(self, s_mm: np.ndarray) -> np.ndarray:
        linear, quadratic = self.lateral_drift_mm
        return linear * s_mm / 100 + quadratic * (s_mm / 100) ** 2


def draw_patient_anatomy(rng: np.random.Generator) -> PatientAnatomy:
    """A random but plausible adult lumbar spine (sizes within normal adult ranges, some degenerated discs)."""
    scale = rng.uniform(0.88, 1.12)
    body_heights = np.array(_BODY_HEIGHT_MM) * scale * rng.uniform(0.95, 1.05, len(_VERTEBRAE))
    degenerated = rng.random(len(_DISC_HEIGHT_MM)) < np.array(_DEGENERATION_RISK)
    hydration = np.where(degenerated, rng.uniform(0.1, 0.45, degenerated.size), rng.uniform(0.8, 1.0, degenerated.size))
    hydration[:4] = 0.05  # fused sacral remnants
    disc_heights = np.array([rng.uniform(*r) for r in _DISC_HEIGHT_MM]) * scale * np.where(degenerated, 0.65, 1.0)
    depth = rng.uniform(32, 42) * scale
    body_depths = np.array(_BODY_DEPTH) * depth
    heights = np.empty(2 * len(_VERTEBRAE) - 1)
    heights[0::2], heights[1::2] = body_heights, disc_heights
    segment_depths = np.empty_like(heights)
    segment_depths[0::2], segment_depths[1::2] = body_depths, (body_depths[:-1] + body_depths[1:]) / 2 + 1.5
    is_disc = np.arange(heights.size) % 2 == 1
    bounds = np.concatenate([[0.0], np.cumsum(heights)])
    l3 = 2 * _VERTEBRAE.index("L3")
    bounds -= (bounds[l3] + bounds[l3 + 1]) / 2
    centres = (bounds[0:-1:2] + bounds[1::2]) / 2
    segment_hydration = np.ones(heights.size)
    segment_hydration[1::2] = hydration
    l1, l2, s2 = (float(centres[_VERTEBRAE.index(v)]) for v in ("L1", "L2", "S2"))
    return PatientAnatomy(
        lordosis_radius_mm=rng.uniform(260, 600),
        lordosis_apex_mm=rng.uniform(-40, 0),
        lean=rng.normal(0.05, 0.06),
        segment_bounds_mm=bounds.astype(np.float32),
        segment_is_disc=is_disc,
        segment_hydration=segment_hydration.astype(np.float32),
        segment_depth_mm=np.asarray(segment_depths, dtype=np.float32),
        body_centres_mm=centres.astype(np.float32),
        body_heights_mm=np.asarray(body_heights, dtype=np.float32),
        body_half_width_mm=rng.uniform(20, 25) * scale,
        canal_depth_mm=rng.uniform(12, 18),
        canal_half_width_mm=rng.uniform(8, 14),
        conus_mm=rng.uniform(l2, l1),
        thecal_end_mm=s2 + rng.uniform(-5, 10),
        spinous_length_mm=rng.uniform(24, 34) * scale,
        spinous_half_width_mm=rng.uniform(3, 4.5),
        back_depth_mm=rng.uniform(65, 115),
        subcutaneous_fat_mm=rng.uniform(8, 35),
        psoas_scale=rng.uniform(0.7, 1.3),
        lateral_drift_mm=(rng.normal(0, 1.5), rng.normal(0, 1.5)),
        sacral_bend_per_mm=rng.uniform(1 / 160, 1 / 90),
        aorta_lateral_mm=rng.uniform(10, 20),
        aorta_radius_mm=rng.uniform(8, 12),
    )


@dataclass(frozen=True)
class ImageFrame:
    """How a series' pixel grid sits over the anatomy: matrix, pixel size, and the patient's pose in the FOV."""

    rows: int
    columns: int
    pixel_spacing_mm: float
    centre_y_mm: float  # anatomy point at the image centre (y: anterior -> posterior, z: feet -> head)
    centre_z_mm: float
    roll_deg: float  # in-plane rotation of the patient in the image

    def plane_coordinates(self, block: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(first, second) in-plane anatomy coordinates of the centres of block x block pixel tiles."""
        across = (
            np.arange(self.columns // block) * block + (block - 1) / 2 - (self.columns - 1) / 2
        ) * self.pixel_spacing_mm
        down = (np.arange(self.rows // block) * block + (block - 1) / 2 - (self.rows - 1) / 2) * self.pixel_spacing_mm
        a, b = np.meshgrid(across.astype(np.float32), -down.astype(np.float32))
        cos, sin = np.cos(np.radians(self.roll_deg)), np.sin(np.radians(self.roll_deg))
        return self.centre_y_mm + cos * a - sin * b, self.centre_z_mm + sin * a + cos * b


def draw_image_frame(rows: int, pixel_spacing_mm: float, rng: np.random.Generator) -> ImageFrame:
    """Centre the FOV a little posterior of the vertebral bodies and below L3, as a technologist would."""
    return ImageFrame(rows, rows, pixel_spacing_mm, rng.uniform(5, 30), rng.uniform(-45, -5), rng.normal(0, 3))


def _inside(depth_mm: np.ndarray | float, edge_mm: float = 1.0) -> np.ndarray:
    """Soft membership from a signed distance inside a boundary (mm): 0 outside, 1 inside, a ramp across the edge."""
    return np.clip(np.asarray(depth_mm) / edge_mm + 0.5, 0.0, 1.0)


def _chord(lateral_mm: np.ndarray, half_width_mm: float) -> np.ndarray:
    """Fraction of an elliptical axial footprint's AP extent that a sagittal plane at `lateral_mm` cuts."""
    return np.sqrt(np.clip(1.0 - (lateral_mm / half_width_mm) ** 2, 0.0, None))


def _smooth_texture(shape: tuple[int, int], cell_px: int, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-scale smooth random field (marrow heterogeneity, bowel, bias) by upsampling coarse noise."""
    coarse = rng.standard_normal((shape[0] // cell_px + 2, shape[1] // cell_px + 2)).astype(np.float32)
    fine = ndimage.zoom(coarse, cell_px, order=1)
    return fine[: shape[0], : shape[1]]


def _paint(image: np.ndarray, weight: np.ndarray, signal: np.ndarray | float) -> None:
    image += weight * (signal - image)


def _upsample_twice(stack: np.ndarray) -> np.ndarray:
    """Bilinear x2 upsampling of (n, rows, columns) rendered on 2 x 2 tiles (faster than ndimage.zoom here)."""
    for axis in (1, 2):
        source = np.moveaxis(stack, axis, 0)
        target = np.empty((2 * source.shape[0], *source.shape[1:]), np.float32)
        even, odd = target[0::2], target[1::2]  # fine pixels a quarter tile before / after each tile centre
        np.multiply(source, 0.75, out=even)
        even[1:] += 0.25 * source[:-1]
        even[0] += 0.25 * source[0]
        np.multiply(source, 0.75, out=odd)
        odd[:-1] += 0.25 * source[1:]
        odd[-1] += 0.25 * source[-1]
        stack = np.moveaxis(target, 0, axis)
    return np.ascontiguousarray(stack)


def _segment_index(patient: PatientAnatomy, s: np.ndarray) -> np.ndarray:
    """Which vertebral body or disc (index into the patient's segments) each point's level s falls in."""
    return np.clip(np.searchsorted(patient.segment_bounds_mm, s, side="right") - 1, 0, patient.segment_is_disc.size - 1)


def _column(
    patient: PatientAnatomy, index: np.ndarray, d: np.ndarray, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(front, rear, membership) of the vertebral bodies and discs, whose AP extent shrinks laterally."""
    depth = patient.segment_depth_mm[index]
    footprint = _chord(x, patient.body_half_width_mm)
    front, rear = 0.5 * depth * (1 + footprint), 0.5 * depth * (1 - footprint**0.25)
    return front, rear, _inside(d - rear) * _inside(front - d) * np.clip(8 * footprint, 0, 1)


def _dural_sac(patient: PatientAnatomy, index: np.ndarray, s: np.ndarray, d: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Membership of the CSF-filled dural sac (the spinal canal), narrowed behind degenerated discs."""
    canal = patient.canal_depth_mm
    stenosis = np.where(patient.segment_is_disc[index], 3.5 * (1 - patient.segment_hydration[index]), 0)
    sac_half_depth = (0.5 * canal - stenosis) * _chord(x, patient.canal_half_width_mm)
    return _inside(sac_half_depth - np.abs(d + 0.5 * canal + 0.5), 1.2) * _inside(s - patient.thecal_end_mm, 6)


def render_label_mask(patient: PatientAnatomy, lateral_mm: np.ndarray, frame: ImageFrame) -> np.ndarray:
    """SPIDER-style label mask of a sagittal stack, (n_slices, rows, columns) uint8, on the render's pixel grid.

    Vertebrae and discs are numbered from the caudal end of the phantom's column (S5 = 1, the disc above it 201);
    the canal (100) is the dural sac where the render draws it (the render's small random yaw aside).
    """
    y, z = frame.plane_coordinates(block=2)
    s, d, _ = patient.spine_coordinates(y, z)
    x = np.abs(np.asarray(lateral_mm, np.float32)[:, None, None] + patient.lateral_drift(s))
    index = _segment_index(patient, s)
    number = index // 2 + 1
    segment_label = np.where(patient.segment_is_disc[index], DISC_LABEL_BASE + number, number)
    mask = np.where(_column(patient, index, d, x)[2] > 0.5, segment_label, 0)
    mask = np.where(_dural_sac(patient, index, s, d, x) > 0.5, CANAL_LABEL, mask).astype(np.uint8)
    return np.repeat(np.repeat(mask, 2, axis=1), 2, axis=2)


def render_sagittal_stack(
    patient: PatientAnatomy, lateral_mm: np.ndarray, weighting: Weighting, frame: ImageFrame, rng: np.random.Generator
) -> np.ndarray:
    """Render one sagittal series, (n_slices, rows, columns) float32 in [0, 4095].

    The anatomy is drawn on 2 x 2 pixel tiles (the render's cost) and interpolated, which also gives the
    soft edges of a real MR image; all slices share the series' pose, contrast, gain and bias field,
    each gets its own noise.
    """
    signal = {tissue: value * rng.lognormal(0, 0.06) for tissue, value in _SIGNAL[weighting].items()}
    y, z = frame.plane_coordinates(block=2)
    s, d, soft_d = patient.spine_coordinates(y, z)
    yaw = rng.normal(0, 1.0) / 50  # the plane is rarely exactly parallel to the patient's midline
    lateral = np.asarray(lateral_mm, np.float32)[:, None, None] + patient.lateral_drift(s) + yaw * d
    x = np.abs(lateral)
    texture = _smooth_texture(s.shape, 16, rng)
    image = np.full(x.shape, signal["air"], np.float32)

    canal = patient.canal_depth_mm
    bony_canal = canal + 2.5
    bony_half_width = patient.canal_half_width_mm + 4
    width = patient.body_half_width_mm

    # Soft tissue: subcutaneous fat inside the skin, paraspinal muscle behind the spine, bowel in front.
    _paint(image, _inside(soft_d + patient.back_depth_mm), signal["fat"])
    muscle_back = _inside(soft_d + patient.back_depth_mm - patient.subcutaneous_fat_mm, 2) * _inside(-bony_canal - d, 2)
    _paint(image, muscle_back, signal["muscle"] * (1 + 0.12 * texture))
    bowel = _smooth_texture(s.shape, 6, rng)
    _paint(
        image,
        _inside(d - 1.3 * patient.segment_depth_mm.max() - 8 - 6 * texture, 4),
        signal["bowel"] * (1 + 0.2 * bowel),
    )
    far_lateral_muscle = (
        _inside(x - (bony_half_width + 12), 6) * _inside(0.4 * width - d, 4) * _inside(d + bony_canal, 2)
    )
    _paint(image, far_lateral_muscle, signal["muscle"])

    # Psoas: beside the vertebral bodies, growing caudally from L1 to L5.
    l1, s1, l4, l5 = (patient.body_centre_mm(v) for v in ("L1", "S1", "L4", "L5"))
    psoas_depth = patient.psoas_scale * (5 + 20 * np.clip((l1 - s) / (l1 - s1), 0, 1)) * _inside(s - s1, 15)
    psoas = _inside(x - (width - 4), 5) * _inside(width + 40 - x, 8) * _inside(psoas_depth - np.abs(d - 0.5 * width), 3)
    _paint(image, psoas, signal["muscle"] * 0.95)

    # Aorta (patient's left, negative lateral) and inferior vena cava, above their bifurcations.
    depth_here = float(patient.segment_depth_mm.max())
    for centre_mm, radius, bifurcation, value in (
        (-patient.aorta_lateral_mm, patient.aorta_radius_mm, l4, signal["vessel"]),
        (patient.aorta_lateral_mm + 5, patient.aorta_radius_mm + 2, l5, signal["muscle"] * 0.8),
    ):
        half_depth = radius * _chord(lateral - centre_mm, radius)
        vessel = _inside(half_depth - np.abs(d - depth_here - radius - 4), 1.5) * _inside(s - bifurcation, 6)
        _paint(image, vessel, value)

    # Vertebral bodies and discs: a column whose AP extent shrinks laterally (flat posterior wall, round front).
    index = _segment_index(patient, s)
    low, high = patient.segment_bounds_mm[index], patient.segment_bounds_mm[index + 1]
    is_disc, depth = patient.segment_is_disc[index], patient.segment_depth_mm[index]
    along = np.minimum(s - low, high - s)
    front, rear, column = _column(patient, index, d, x)
    _paint(image, column * np.where(is_disc, 1.0, _inside(along + 0.5)), signal["cortex"])
    rounding = 1.3 + 4 * (x / width) ** 2  # cortical endplates, and the bodies grow rounder laterally
    inner = _inside(d - rear - 1.3) * _inside(front - 1.3 - d) * _inside(along - rounding)
    middle = (low + high) / 2
    nucleus_distance = (
        ((s - middle) / (0.42 * (high - low))) ** 2
        + ((d - 0.5 * depth) / (0.38 * depth)) ** 2
        + (x / (0.6 * width)) ** 2
    )
    nucleus = np.clip(1.5 * (1 - nucleus_distance), 0, 1) * patient.segment_hydration[index]
    disc_signal = signal["annulus"] + nucleus * (signal["nucleus"] - signal["annulus"])
    _paint(
        image,
        np.where(is_disc, column, inner * column),
        np.where(is_disc, disc_signal, signal["marrow"] * (1 + 0.08 * texture)),
    )

    # Nearest vertebra for the posterior elements, which attach to the upper half of each body.
    nearest = np.abs(s[..., None] - patient.body_centres_mm).argmin(axis=-1)
    from_centre = s - patient.body_centres_mm[nearest]
    height = patient.body_heights_mm[nearest]
    bone = signal["marrow"] * 0.8
    behind_canal = -d - bony_canal  # mm posterior of the bony canal's back wall

    # Spinal canal: epidural fat in the bony canal, the CSF-filled dural sac, the cord above the conus.
    _paint(
        image,
        _inside(0.5 * bony_canal * _chord(x, bony_half_width) - np.abs(d + 0.5 * bony_canal))
        * _inside(s - patient.thecal_end_mm + 30, 5),
        signal["fat"],
    )
    sac = _dural_sac(patient, index, s, d, x)
    roots = 0.45 * np.exp(-(((d + 0.75 * canal) / 1.5) ** 2)) * _inside(patient.conus_mm - s, 10)
    _paint(image, sac, signal["csf"] * (1 - roots) + roots * signal["nerve"])
    cord = _inside(1 - ((d + 0.5 * canal + 0.5) / 3.5) ** 2 - (x / 4.5) ** 2, 0.4) * _inside(s - patient.conus_mm, 8)
    _paint(image, cord, signal["cord"])

    # Neural foramina (fat and the exiting root) between pedicles, beside the canal.
    lateral_band = _inside(x - patient.canal_half_width_mm + 1, 3) * _inside(bony_half_width + 8 - x, 3)
    foramen = lateral_band * _inside(-d) * _inside(d + bony_canal)
    _paint(image, foramen, signal["fat"])
    root = _inside(1 - ((from_centre + 0.15 * height + 3) / 3.5) ** 2 - ((d + 0.45 * canal) / 3.5) ** 2, 0.3)
    _paint(image, foramen * root * _inside(x - bony_half_width + 3, 3), signal["nerve"])
    pedicle = foramen * _inside(0.28 * height - np.abs(from_centre - 0.2 * height), 2)
    _paint(image, pedicle, bone)

    # Laminae, articular pillars with their facet joints, transverse processes, spinous processes.
    lamina = _inside(7 - np.abs(behind_canal - 3.5), 1.5) * _inside(
        0.4 * height - np.abs(from_centre + 0.15 * height), 2
    )
    _paint(image, lamina * _inside(bony_half_width + 6 - x, 3), bone)
    pillar = (
        _inside(x - bony_half_width + 2, 3)
        * _inside(bony_half_width + 14 - x, 4)
        * _inside(7 - np.abs(behind_canal - 5), 2)
    )
    _paint(image, pillar, bone)
    joint = _inside(0.8 - np.abs(from_centre + 0.55 * height - 0.4 * (behind_canal - 5)), 0.8)
    _paint(image, pillar * joint, signal["joint"])
    transverse = _inside(x - bony_half_width - 6, 3) * _inside(bony_half_width + 35 - x, 6)
    _paint(
        image,
        transverse * _inside(4 - np.abs(d + 0.5 * canal), 1.5) * _inside(5 - np.abs(from_centre - 0.2 * height), 1.5),
        bone,
    )
    along_process = np.clip(behind_canal / patient.spinous_length_mm, 0, 1)
    spinous = (
        _inside(patient.spinous_half_width_mm - x, 1.5)
        * _inside(behind_canal)
        * _inside(patient.spinous_length_mm - behind_canal, 2)
        * _inside(
            0.3 * height * (1 - 0.3 * along_process) - np.abs(from_centre + 0.25 * height + 0.2 * behind_canal), 1.5
        )
    )
    interspinous = (
        _inside(patient.spinous_half_width_mm + 1 - x, 2)
        * _inside(behind_canal)
        * _inside(patient.spinous_length_mm + 5 - behind_canal, 3)
    )
    _paint(image, interspinous, signal["ligament"] + 0.3 * (signal["fat"] - signal["ligament"]) * (texture > 0))
    _paint(image, spinous, bone)
    return _acquire(image, weighting, rng)


def render_axial_stack(
    patient: PatientAnatomy, offsets_mm: np.ndarray, weighting: Weighting, frame: ImageFrame, rng: np.random.Generator
) -> np.ndarray:
    """Render an axial series through the L4-L5 disc, (n_slices, rows, columns); only for the indexer to filter out."""
    signal = {tissue: value * rng.lognormal(0, 0.06) for tissue, value in _SIGNAL[weighting].items()}
    across, up = frame.plane_coordinates(block=2)
    x, y = across - frame.centre_y_mm, frame.centre_z_mm - up  # x right -> left, y anterior -> posterior (down)
    disc_half_height = 4.0
    in_disc = (np.abs(np.asarray(offsets_mm, np.float32)) < disc_half_height)[:, None, None]
    image = np.full((len(offsets_mm), *x.shape), signal["air"], np.float32)
    width, depth, canal, back = (
        patient.body_half_width_mm,
        float(patient.segment_depth_mm.max()),
        patient.canal_depth_mm,
        patient.back_depth_mm,
    )

    def ellipse(centre_x: float, centre_y: float, half_x: float, half_y: float, edge: float) -> np.ndarray:
        return _inside((1 - ((x - centre_x) / half_x) ** 2 - ((y - centre_y) / half_y) ** 2) * edge)

    _paint(image, ellipse(0, -40, 170, back + 40, 40), signal["fat"])
    _paint(
        image,
        ellipse(0, -40, 150, back + 40 - patient.subcutaneous_fat_mm, 40) * _inside(-depth - 10 - y, 4),
        signal["bowel"],
    )
    for side in (-1, 1):
        _paint(image, ellipse(side * 24, 0.55 * back, 24, 0.35 * back, 10), signal["muscle"])
        _paint(image, ellipse(side * (width + 12), -0.4 * depth, 14 * patient.psoas_scale, 16, 10), signal["muscle"])
    _paint(
        image, ellipse(0, -0.5 * depth, width, 0.5 * depth, 20), np.where(in_disc, signal["annulus"], signal["marrow"])
    )
    _paint(
        image,
        ellipse(0, -0.5 * depth, 0.5 * width, 0.3 * depth, 10) * in_disc,
        signal["nucleus"] * patient.segment_hydration.max(),
    )
    _paint(image, ellipse(0, 0.5 * canal + 1, patient.canal_half_width_mm, 0.5 * canal, 10), signal["csf"])
    return _acquire(image, weighting, rng)


def _acquire(tiles: np.ndarray, weighting: Weighting, rng: np.random.Generator) -> np.ndarray:
    """From noiseless tissue signal on 2 x 2 tiles to a magnitude image: coil bias, series gain, Rician noise.

    The bias is smooth (the spine coil lies posterior), so it is applied on the tiles before upsampling.
    """
    rows, columns = tiles.shape[1:]
    across = np.linspace(-1, 1, columns, dtype=np.float32)[None, :]
    down = np.linspace(-1, 1, rows, dtype=np.float32)[:, None]
    log_bias = rng.uniform(0.1, 0.4) * across + rng.normal(0, 0.1) * down - rng.uniform(0, 0.25) * down**2
    tiles *= np.exp(log_bias + 0.08 * _smooth_texture((rows, columns), 32, rng)) * rng.uniform(0.85, 1.1)
    image = _upsample_twice(tiles)
    sigma = rng.uniform(*_NOISE_SIGMA[weighting])
    real = image + sigma * rng.standard_normal(image.shape, dtype=np.float32)
    imaginary = sigma * rng.standard_normal(image.shape, dtype=np.float32)
    return np.clip(np.sqrt(real * real + imaginary * imaginary), 0, MAX_SIGNAL)
