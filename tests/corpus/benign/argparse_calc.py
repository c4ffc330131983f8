import argparse
import operator

OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}


def main(argv=None):
    parser = argparse.ArgumentParser(description="Tiny calculator")
    parser.add_argument("op", choices=OPS)
    parser.add_argument("a", type=float)
    parser.add_argument("b", type=float)
    args = parser.parse_args(argv)
    print(OPS[args.op](args.a, args.b))


if __name__ == "__main__":
    main(["add", "2", "3"])
