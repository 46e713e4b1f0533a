"""Stroke-to-image latency of the painter (tools/paint.py), on the server and in a browser.

Models: the demo's CLADE (work_dirs/demo/clade from `make demo`; without it the synthetic
config's initial weights, and the output says so) and an ADE20k-size CLADE generator
(configs/clade_ade20k.py: 256x256, 151 classes, ngf 64, initial weights: the time does not
depend on the weights). --spade adds the SPADE counterparts.

1. Server: each of N strokes (a brush polyline of a random class, added to the map of the
   strokes before) is posted to the painter's server as the page posts it, one after the
   other: the server's own time (parse, synthesis, PNG), the synthesis alone, and the round
   trip of a Python client.
2. Browser (Debian's Chromium through Playwright, if installed): the same strokes drawn with
   the mouse on the page; the time from releasing the button to the image on screen, as the
   page measures it. The page asks for images during a stroke too, so a stroke's last request
   may wait for one in flight: this is the latency a painter sees.

    .venv/bin/python benchmarks/bench_paint.py [--strokes 20] [--no-browser] [--spade]
"""
import argparse
import http.client
import json
import os
import os.path as osp
import statistics
import time
import urllib.parse

import numpy as np
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CHROMIUM = '/usr/bin/chromium'
SETTLED = """() => [...document.querySelectorAll('figure.output')].every(f =>
    f.dataset.state === 'idle' && f.dataset.sent !== '0' && f.dataset.shown === f.dataset.sent)"""


def cpu_description() -> str:
    flags = set()
    if osp.isfile('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('flags'):
                    flags = set(line.split(':', 1)[1].split())
                    break
    special = [f for f in ('avx512_bf16', 'amx_bf16', 'amx_tile') if f in flags] or ['none']
    return (f'torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}'
            f', bf16/AMX flags: {", ".join(special)}, {torch.get_num_threads()} threads, '
            f'{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}')


def strokes(height, width, num_classes, count, seed=0):
    """``count`` label maps, each the one before plus a brush polyline of a random class
    (the first stroke on a map of two halves, classes 0 and 1)."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((height, width), np.uint8 if num_classes <= 256 else np.uint16)
    ids[height // 2:] = 1 % num_classes
    radius = max(2, min(height, width) // 20)
    ys, xs = np.mgrid[0:height, 0:width]
    maps, paths = [], []
    for _ in range(count):
        points = rng.uniform([0, 0], [width, height], (3, 2))
        cls = int(rng.integers(0, num_classes))
        for (xa, ya), (xb, yb) in zip(points[:-1], points[1:]):
            for t in np.linspace(0, 1, 24):
                x, y = xa + (xb - xa) * t, ya + (yb - ya) * t
                ids[(xs + 0.5 - x) ** 2 + (ys + 0.5 - y) ** 2 <= radius ** 2] = cls
        maps.append(ids.copy())
        paths.append((cls, points, 2 * radius))
    return maps, paths


def post_json(url, path, body):
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
    try:
        connection.request('POST', path, json.dumps(body),
                           {'Content-Type': 'application/json'})
        response = connection.getresponse()
        answer = json.loads(response.read())
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f'{path}: {response.status} {answer}')
    return answer


def wire(ids):
    import base64
    dtype = 'uint8' if ids.dtype == np.uint8 else 'uint16'
    return dict(width=ids.shape[1], height=ids.shape[0], dtype=dtype,
                data=base64.b64encode(ids.astype('<u2' if dtype == 'uint16' else 'u1')
                                      .tobytes()).decode())


def summary(values):
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
    return f'{statistics.median(values):7.1f} {p90:7.1f}'


def bench_server(url, maps):
    post_json(url, '/api/synthesize', dict(client='warm-up', seq=1, labels=wire(maps[0])))
    server, compute, round_trip = [], [], []
    for seq, ids in enumerate(maps, 1):
        start = time.perf_counter()
        answer = post_json(url, '/api/synthesize', dict(client='bench', seq=seq,
                                                        labels=wire(ids)))
        round_trip.append((time.perf_counter() - start) * 1000)
        server.append(answer['server_ms'])
        compute.append(answer['compute_ms'])
    return dict(server=server, compute=compute, round_trip=round_trip)


def bench_browser(url, model, paths):
    from playwright.sync_api import sync_playwright
    height, width = model.size
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=['--no-sandbox', '--disable-dev-shm-usage'])
        try:
            page = browser.new_page(viewport=dict(width=1600, height=1000))
            page.goto(url)
            page.wait_for_function(SETTLED, timeout=120000)
            box = page.locator('#labels').bounding_box()
            scale = box['width'] / width
            page.locator('#brush-size').fill(str(paths[0][2]))
            times = []
            for cls, points, _ in paths:
                page.click(f'#palette button[data-class-id="{cls}"]')
                screen = [(box['x'] + x * scale, box['y'] + y * scale) for x, y in points]
                page.mouse.move(*screen[0])
                page.mouse.down()
                for point in screen[1:]:
                    page.mouse.move(*point, steps=12)
                page.mouse.up()
                page.wait_for_function(SETTLED, timeout=120000)
                times.append(page.evaluate('window.paintLatencies.at(-1).round_trip_ms'))
            return times
        finally:
            browser.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--strokes', type=int, default=20)
    parser.add_argument('--no-browser', action='store_true')
    parser.add_argument('--spade', action='store_true', help='also the SPADE counterparts')
    args = parser.parse_args()

    from mmengine.logging import MMLogger
    MMLogger.get_instance('mmengine', log_level='WARNING')
    from clade_mm.apps.paint import demo_checkpoint, load_models
    from clade_mm.apps.paint.server import running_server
    demo = demo_checkpoint(osp.join(ROOT, 'work_dirs/demo/clade'))
    specs = [('demo CLADE' + ('' if demo else ' (no `make demo` model: initial weights)'),
              'configs/clade_synthetic.py', demo),
             ('ADE20k CLADE, initial weights', 'configs/clade_ade20k.py', None)]
    if args.spade:
        spade = demo_checkpoint(osp.join(ROOT, 'work_dirs/demo/spade'))
        specs.insert(1, ('demo SPADE' + ('' if spade else ' (initial weights)'),
                         'configs/spade_synthetic.py', spade))
        specs.append(('ADE20k SPADE, initial weights', 'configs/spade_ade20k.py', None))
    browser = not args.no_browser and os.access(CHROMIUM, os.X_OK)
    if not args.no_browser and not browser:
        print(f'no browser figures: {CHROMIUM} is missing (tools/setup_browser.sh installs it)')

    print(cpu_description())
    print(f'{args.strokes} strokes per model; milliseconds, median and 90th percentile\n')
    header = '| model | size | server | synthesis | Python round trip |'
    header += ' browser stroke to image |' if browser else ''
    print(header)
    print('|' + '---|' * (header.count('|') - 1))
    for name, config, checkpoint in specs:
        model, = load_models([(osp.join(ROOT, config), checkpoint)])
        height, width = model.size
        maps, paths = strokes(height, width, model.num_classes, args.strokes)
        with running_server([model]) as url:
            server = bench_server(url, maps)
            row = (f'| {name} | {width}x{height} | {summary(server["server"])} | '
                   f'{summary(server["compute"])} | {summary(server["round_trip"])} |')
            if browser:
                row += f' {summary(bench_browser(url, model, paths))} |'
        print(row, flush=True)
        del model


if __name__ == '__main__':
    main()
