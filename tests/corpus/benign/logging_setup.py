import logging

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("app")


def process(values):
    total = 0
    for v in values:
        if v < 0:
            log.warning("skipping negative value %s", v)
            continue
        total += v
    log.info("total is %d", total)
    return total


process([1, 2, -3, 4])
