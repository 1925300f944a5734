"""Import time of `ferronet` in fresh interpreters, next to NumPy's (its one dependency).

Run: python benches/import_time.py
Prints the median of 15 fresh interpreters for `import numpy` and `import ferronet`.
"""

import statistics
import subprocess
import sys

CODE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def median_import_seconds(module, runs=15):
    times = [float(subprocess.run([sys.executable, "-c", CODE.format(module=module)], capture_output=True, text=True, check=True).stdout) for _ in range(runs)]
    return statistics.median(times)


def main():
    numpy_s = median_import_seconds("numpy")
    ferronet_s = median_import_seconds("ferronet")
    print(f"import time | numpy {numpy_s * 1e3:.0f} ms | ferronet (numpy included) {ferronet_s * 1e3:.0f} ms | "
          f"ferronet's own {max(ferronet_s - numpy_s, 0) * 1e3:.0f} ms | target < 200 ms: {'met' if ferronet_s < 0.2 else 'missed'}")


if __name__ == "__main__":
    main()
