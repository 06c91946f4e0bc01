"""Torch datasets for training: real multitracks (folder of stems, MUSDB18), effect-augmented items, stem
augmentations and the on-disk cache of rendered items."""
