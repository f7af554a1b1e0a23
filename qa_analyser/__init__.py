"""qa-analyser."""
