"""Planner fine-tuning (TinyAgent, Sec. 3-5): base model, prompts, LoRA and full fine-tuning, evaluation.

settings.py   `FinetuneConfig`, the settings each cached model depends on, the decoding file of a model
tokenizer.py  byte-level BPE trained here, chat template
base.py       the offline base model: plan-free corpus, a small Llama, Hugging Face folders
prompts.py    training prompts (needed tools + negatives, optional examples), loss on the plan only
train.py      the Hugging Face Trainer for pre-training, LoRA (peft) and full fine-tuning; cached models
evaluate.py   success rate and the other plan metrics; `workbench evaluate`
mlx.py        MLX: conversion, 4-bit quantization (round-to-nearest, GPTQ, AWQ, DWQ), mlx-lm LoRA, fusing
llamacpp.py   GGUF export with the gguf writer, llama.cpp's quantizer (Q4_0, Q4_K_M)
mlx_data.py   the dataset in mlx-lm's chat format

The stage that runs them is `workbench.stages.finetune`; the fine-tuned planner runs in `workbench.planner`.
"""
