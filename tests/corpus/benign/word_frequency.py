"""Count word frequencies in a block of text."""
import re
from collections import Counter


def word_counts(text):
    words = re.findall(r"[a-z']+", text.lower())
    return Counter(words)


if __name__ == "__main__":
    sample = "The quick brown fox jumps over the lazy dog. The dog sleeps."
    for word, count in word_counts(sample).most_common(5):
        print(f"{word:>8}: {count}")
