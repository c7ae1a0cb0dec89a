"""Data synthesis (TinyAgent, Sec. 3.1): the offline and LLM teachers, sanity checks, the dataset."""
