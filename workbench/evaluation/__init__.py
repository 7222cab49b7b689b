"""Evaluations of block generation over results and traces: what next-token evaluations miss.

One module per measure: `seams` (errors at canvas boundaries vs inside, against AR at the same
positions), `revisions` (error propagation inside a canvas, from the trace), `convergence` (steps
per canvas and the step cap), `guardrails` (output checks per canvas vs per token, and what drafts
show before a check runs), `soak` (energy and speed over minutes of back-to-back generation).
`positions` ties the words the story checks read to the tokens and canvases that produced them.
`perplexity` scores text under a reference model.

Each measure over results is registered by name with one signature (`registry`):
`run_evaluation("seams", results, tokenizer=tok)` runs it after checking that the inputs hold what
it needs, `evaluation_table()` lists them, and `workbench evaluate NAME` runs one from the shell.
"""

from workbench.evaluation.registry import evaluation_table, evaluations, register_evaluation, run_evaluation

__all__ = ["evaluation_table", "evaluations", "register_evaluation", "run_evaluation"]
