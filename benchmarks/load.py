"""A competing process for checks under load: keeps a share of one core busy until killed.

python benchmarks/load.py 0.4 & python benchmarks/load.py 0.4 &   # then run the check, then kill both
"""

import sys
import time


def main() -> None:
    duty = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5  # share of one core kept busy
    while True:
        start = time.perf_counter()
        while time.perf_counter() - start < 0.1 * duty:
            pass
        time.sleep(0.1 * (1 - duty))


if __name__ == "__main__":
    main()
