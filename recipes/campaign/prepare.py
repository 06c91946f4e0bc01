"""Prepare the campaign's carried material on the CPU (needs soundfile and pedalboard; the accelerator does not).

    python recipes/campaign/prepare.py --out cache/campaign-bundle.pt

Reads the shared data set (``DECONSTRUCT_SHARED_DATA``, else ``../shared/data``): ``train`` dry recordings and
rooms for training, ``eval`` ones for measuring only; adds synthetic rooms and renders Freeverb impulse responses.
One float16 ``.pt`` file, well under the 64 MiB that can be carried.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from deconstruct.train.campaign_data import bundle_summary, prepare_bundle, save_bundle  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="the bundle file to write (.pt)")
    parser.add_argument("--synthetic-rooms", type=int, default=24)
    parser.add_argument("--max-dry-s", type=float, default=40.0, help="longest excerpt kept per recording, s")
    args = parser.parse_args()
    bundle = prepare_bundle(synthetic_rooms=args.synthetic_rooms, max_dry_s=args.max_dry_s)
    path = save_bundle(bundle, args.out)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB): {bundle_summary(bundle)}")


if __name__ == "__main__":
    main()
