"""Training data: synthetic multitracks rendered from General MIDI soundfonts, folder-of-stems and MUSDB18 readers,
augmentations and an on-disk cache.

The inference path never imports this package.
"""
