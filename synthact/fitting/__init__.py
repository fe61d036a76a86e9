"""Fit SMPL-H motions to 3D skeleton sequences (NTU RGB+D, Toyota Smarthome, ...)."""

from synthact.fitting.fit import NTU_JOINT_MAP, FitOptions, fit_smplh
from synthact.fitting.result import FitErrors, FitResult

__all__ = ["NTU_JOINT_MAP", "FitErrors", "FitOptions", "FitResult", "fit_smplh"]
