"""Tokenizers: Japanese (MeCab with offsets, readings, part of speech), English, romaji."""
