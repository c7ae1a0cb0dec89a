"""Benchmarks of LLMCompiler (Kim et al. 2023, Sec. 5): datasets, Wikipedia and math tools, scoring, cost."""
