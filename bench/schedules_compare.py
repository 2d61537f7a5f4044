# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""compare.py with the solver-aware / quality-aware methods and the peers of art.quality available as
learned-on-the-fly schedule entries (gits, edm-best-rho, art-heun, art-heun-D, art-heun-w, art-heun-tuned),
whether or not compare_lib registers them itself. Same options as compare.py; used for
docs/results-schedules.md.

  python bench/schedules_compare.py --network=builtin:gmm-digits \\
      --schedules=edm,logsnr,edm-best-rho,gits,art-heun,art-heun-tuned --solvers=heun,euler \\
      --nfe=5,7,9,11,13,15,19,25,35 --samples=512 --outdir=runs/gmm-digits
"""

import functools
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from art import compare_lib, quality # pylint: disable=wrong-import-position

#----------------------------------------------------------------------------

def _learner(method, net, num_steps, *, solver, seed, device, **kwargs):
    return quality.learn(method, net, num_steps, solver=solver, seed=seed, device=device, verbose=True, **kwargs)

for _name in quality.METHODS:
    if _name not in compare_lib.list_learners():
        compare_lib.register_learner(_name)(functools.partial(_learner, _name))

if __name__ == '__main__':
    import compare # pylint: disable=wrong-import-position
    compare.main() # pylint: disable=no-value-for-parameter
