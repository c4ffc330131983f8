def read_numbers(lines):
    for line in lines:
        line = line.strip()
        if line:
            yield int(line)


def running_total(numbers):
    total = 0
    for n in numbers:
        total += n
        yield total


lines = ["1", "2", "", "3", "10"]
print(list(running_total(read_numbers(lines))))
