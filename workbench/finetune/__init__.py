"""Planner fine-tuning (TinyAgent, Sec. 3-5): base model, prompts, LoRA and full fine-tuning, decoding, evaluation.

tokenizer.py  byte-level BPE trained here, chat template
base.py       the offline base model: plan-free corpus, a small Llama, Hugging Face folders
prompts.py    training prompts (needed tools + negatives, optional examples), loss on the plan only
train.py      the Hugging Face Trainer for pre-training, LoRA (peft) and full fine-tuning
grammar.py    grammar-constrained decoding with llguidance
predict.py    `Planner`: ToolRAG, prompt, batched generation; `workbench predict`
evaluate.py   success rate and the other plan metrics; `workbench evaluate`
stage.py      `run(cfg)`: everything above, into data/results/planner.json
"""
