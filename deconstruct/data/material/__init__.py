"""Real recordings as training material: the ``train`` split of the shared data set, and excerpts of its
instrument takes for synthetic mixes."""
