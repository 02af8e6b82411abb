"""Run folders and what works on them: the chunked training loop with progress, CSV and
TensorBoard logs (runner, progress, writers), checkpoints of plain data (checkpoint),
evaluation (evaluate), and several runs side by side (compare, plots). The `rlgraph`
command calls these functions; so can a script or a notebook."""
