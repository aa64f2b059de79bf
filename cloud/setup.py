"""The SceneLab trainer as a source distribution for Vertex AI's python package spec.

Torch, torchvision and Pillow come with the prebuilt PyTorch container; they are not listed, so
pip never replaces the container's CUDA build with another one.
"""
from setuptools import setup

setup(
    name="scenelab-trainer",
    version="0.1.0",
    description="SceneLab's trainer for Vertex AI custom training",
    packages=["trainer"],
    python_requires=">=3.8",
    extras_require={"hypertune": ["cloudml-hypertune"]},
)
