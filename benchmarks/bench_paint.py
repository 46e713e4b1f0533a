"""Stroke-to-image latency of the painter (tools/paint.py), on the server and in a browser.

Models: the demo's model (the one tools/paint.py serves, trained by `make demo`; without it
its config's initial weights, and the output says so) and the ADE20k-size generator of its
norm family (configs/<method>/<family>_ade20k.py: 256x256, 151 classes, ngf 64, initial
weights: the time does not depend on the weights). One option per registered conditional norm
family (`--help` lists them) adds that family's counterparts.

1. Server: each of N strokes (a brush polyline of a random class, added to the map of the
   strokes before) is posted to the painter's server as the page posts it, one after the
   other: the server's own time (parse, synthesis, PNG), the synthesis alone, and the round
   trip of a Python client.
2. Browser (Debian's Chromium through Playwright, if installed): the same strokes drawn with
   the mouse on the page; the time from releasing the button to the image on screen, as the
   page measures it. The page asks for images during a stroke too, so a stroke's last request
   may wait for one in flight: this is the latency a painter sees.

    .venv/bin/python benchmarks/bench_paint.py [--strokes 20] [--no-browser] [--FAMILY ...]
"""
import argparse
import glob
import http.client
import json
import os
import os.path as osp
import statistics
import time
import urllib.parse

import numpy as np

from clade_mm.apis.config import positive_int
from clade_mm.layers import norm_families
from common import ROOT, cpu_line, demo_model, quiet_logs, stroke_maps

CHROMIUM = '/usr/bin/chromium'
SETTLED = """() => [...document.querySelectorAll('figure.output')].every(f =>
    f.dataset.state === 'idle' && f.dataset.sent !== '0' && f.dataset.shown === f.dataset.sent)"""


def slug(family):
    """A family's registered name as the configs' file names spell it (``configs/*/SLUG_*.py``)."""
    return family.lower().replace('-', '_')


def family_config(family, dataset):
    """``configs/<method>/<family>_<dataset>.py``, or ``None``."""
    found = sorted(glob.glob(osp.join(ROOT, 'configs', '*', f'{slug(family)}_{dataset}.py')))
    return found[0] if found else None


def model_specs(extra_families):
    """``[(name, config, checkpoint)]``: the demo's model (the one tools/paint.py serves) and
    the ADE20k-size generator of its family, then the same for each of ``extra_families``
    (demo models in ``make demo``'s work dirs, named after the family)."""
    from clade_mm.apis import load_config
    from clade_mm.apps.paint import demo_checkpoint
    demo_config, demo_work_dir = demo_model()
    default = load_config(demo_config).model.generator.norm_cfg['type']
    demos, ade20k = [], []
    for family in dict.fromkeys([default, *extra_families]):
        config = demo_config if family == default else family_config(family, 'synthetic')
        checkpoint = demo_checkpoint(demo_work_dir if family == default else
                                     osp.join(osp.dirname(demo_work_dir), family.lower()))
        if config:
            demos.append((f'demo {family}' + ('' if checkpoint else
                                              ' (no `make demo` model: initial weights)'),
                          config, checkpoint))
        if family_config(family, 'ade20k'):
            ade20k.append((f'ADE20k {family}, initial weights', family_config(family, 'ade20k'),
                           None))
        if not config or not family_config(family, 'ade20k'):
            print(f'{family}: no configs/*/{slug(family)}_synthetic.py or _ade20k.py, so not '
                  'every model of it is timed')
    return demos + ade20k


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
    parser.add_argument('--strokes', type=positive_int, default=20)
    parser.add_argument('--no-browser', action='store_true')
    for family in norm_families():  # one flag per family: also that family's models
        parser.add_argument(f'--{slug(family).replace("_", "-")}', dest='families',
                            action='append_const', const=family, default=[],
                            help=f'also the {family} counterparts')
    args = parser.parse_args()

    from clade_mm.apps.paint import load_models
    from clade_mm.apps.paint.server import running_server
    specs = model_specs(args.families)
    browser = not args.no_browser and os.access(CHROMIUM, os.X_OK)
    if not args.no_browser and not browser:
        print(f'no browser figures: {CHROMIUM} is missing (tools/setup_browser.sh installs it)')

    print(cpu_line())
    print(f'{args.strokes} strokes per model; milliseconds, median and 90th percentile\n')
    header = '| model | size | server | synthesis | Python round trip |'
    header += ' browser stroke to image |' if browser else ''
    print(header)
    print('|' + '---|' * (header.count('|') - 1))
    for name, config, checkpoint in specs:
        with quiet_logs():
            model, = load_models([(config, checkpoint)])
        height, width = model.size
        maps, paths = stroke_maps(height, width, model.num_classes, args.strokes)
        with running_server([model]) as url, quiet_logs():
            server = bench_server(url, maps)
            row = (f'| {name} | {width}x{height} | {summary(server["server"])} | '
                   f'{summary(server["compute"])} | {summary(server["round_trip"])} |')
            if browser:
                row += f' {summary(bench_browser(url, model, paths))} |'
        print(row, flush=True)
        del model


if __name__ == '__main__':
    main()
