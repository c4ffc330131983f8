def to_markdown(headers, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    def fmt(row):
        return "| " + " | ".join(str(x).ljust(w) for x, w in zip(row, widths)) + " |"
    lines = [fmt(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [fmt(r) for r in rows]
    return "\n".join(lines)


print(to_markdown(["lang", "year"], [["Python", 1991], ["Rust", 2010]]))
