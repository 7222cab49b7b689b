"""Evaluations of block generation over results and traces: what next-token evaluations miss.

One module per measure: `seams` (errors at canvas boundaries vs inside, against AR at the same
positions), `revisions` (error propagation inside a canvas, from the trace), `convergence` (steps
per canvas and the step cap), `guardrails` (output checks per canvas vs per token, and what drafts
show before a check runs), `soak` (energy and speed over minutes of back-to-back generation).
`positions` ties the words the story checks read to the tokens and canvases that produced them.
"""
