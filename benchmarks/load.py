import time, sys
duty = float(sys.argv[1])  # share of one core kept busy, per process
while True:
    t = time.perf_counter()
    while time.perf_counter() - t < 0.1 * duty: pass
    time.sleep(0.1 * (1 - duty))
