"""The offline planner's tokenizer: byte-level BPE trained here with the `tokenizers` library.

A byte-level vocabulary can spell any string, so a name the model never saw is written out piece by piece
instead of being guessed from a whole-word token; a small vocabulary (1,024 by default) keeps those pieces
short and common. Digits are split one by one so that dates and times are built digit by digit. The chat
template wraps each message as `<|role|>\\n...<|end|>\\n`; `<|end|>` doubles as the end-of-sequence token.

    >>> tok = train_tokenizer(["Email Ana the notes.", "Text Bo at 9:30."] * 50, vocab_size=300)
    >>> tok.decode(tok("Email Zoë 2024-06-12")["input_ids"])
    'Email Zoë 2024-06-12'
"""

from __future__ import annotations

from collections.abc import Iterable

PAD, DOC, END = "<|pad|>", "<|endoftext|>", "<|end|>"
ROLES = ("system", "user", "assistant")
SPECIAL_TOKENS = [PAD, DOC, END, *(f"<|{r}|>" for r in ROLES)]

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def train_tokenizer(
    texts: Iterable[str],
    vocab_size: int = 1024,
    min_frequency: int = 2,  # noqa: ANN201
    whole_words: Iterable[str] = (),
):
    """Train byte-level BPE on `texts`; returns a `transformers.PreTrainedTokenizerFast` with a chat template.

    `whole_words` (the tool names, say) become single tokens on top of the BPE vocabulary.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 256 + len(SPECIAL_TOKENS):
        raise ValueError(
            f"vocab_size {vocab_size} is below the 256 bytes plus {len(SPECIAL_TOKENS)} special tokens"
        )
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        show_progress=False,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=PAD,
        eos_token=END,
        bos_token=DOC,
        chat_template=CHAT_TEMPLATE,
        clean_up_tokenization_spaces=False,
    )
    fast.add_tokens(list(whole_words))
    return fast
