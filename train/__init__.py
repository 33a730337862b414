"""sqlchat's fine-tuning: Axolotl-style YAML in, a LoRA/QLoRA adapter out (``python -m train CONFIG``)."""
