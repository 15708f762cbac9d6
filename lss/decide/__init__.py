"""Deciding which slice of a series is the mid-sagittal one."""
