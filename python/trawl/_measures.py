"""pytrec_eval's measure spellings -> trec_eval `-m` arguments.

pytrec_eval accepts nicknames (``official``, ``all_trec``, ``set``), plain names (``map``),
dotted parameters (``ndcg_cut.10,20``) and underscored ones (``P_5``, ``ndcg_cut_10``); several
requests of one measure merge their parameters, and a parameterised request replaces the
measure's default parameters. The nickname sets are pytrec_eval's (trec_eval 9's ``all_trec``,
without ``unj``/``rbp``), so ``import trawl as pytrec_eval`` gives the same keys.
"""

import re

supported_measures = frozenset({
    "runid", "num_q", "num_ret", "num_rel", "num_rel_ret", "map", "gm_map", "Rprec", "bpref",
    "recip_rank", "iprec_at_recall", "P", "relstring", "recall", "infAP", "gm_bpref", "Rprec_mult",
    "utility", "11pt_avg", "binG", "G", "ndcg", "ndcg_rel", "Rndcg", "ndcg_cut", "map_cut",
    "relative_P", "success", "set_P", "set_relative_P", "set_recall", "set_map", "set_F",
    "num_nonrel_judged_ret",
    # trec_eval 10 measures pytrec_eval (trec_eval 9) lacks; not part of any nickname.
    "unj", "rbp", "rbp_resid",
})

_OFFICIAL = {"runid", "num_q", "num_ret", "num_rel", "num_rel_ret", "map", "gm_map", "Rprec",
             "bpref", "recip_rank", "iprec_at_recall", "P"}
supported_nicknames = {
    "official": set(_OFFICIAL),
    "set": {"runid", "num_q", "num_ret", "num_rel", "num_rel_ret", "utility", "set_P",
            "set_recall", "set_relative_P", "set_map", "set_F"},
    "all_trec": set(supported_measures) - {"unj", "rbp", "rbp_resid"},
}

# `name_10`, `name.10,20`, `name_0.2,0.4`: a known measure name, then its parameters.
_PARAMS = re.compile(r"[._]([0-9]+(?:\.[0-9]+)?(?:,[0-9]+(?:\.[0-9]+)?)*)")


def _split(measure):
    """(name, [params]) for a measure request; ValueError when no measure matches."""
    if measure in supported_measures:
        return measure, []
    # Longest name first, so `ndcg_cut_10` is ndcg_cut's and `set_P.5` never P's.
    for name in sorted(supported_measures, key=len, reverse=True):
        if measure.startswith(name):
            m = _PARAMS.match(measure, len(name))
            if m is not None:
                return name, m.group(1).split(",")
    raise ValueError(
        f"unsupported measure {measure!r}: expected a trec_eval measure such as 'map', "
        f"'ndcg_cut.10', 'P_5' or a nickname ({', '.join(sorted(supported_nicknames))})"
    )


def to_trec_eval(measures):
    """trec_eval `-m` arguments for pytrec_eval-style measure requests."""
    if isinstance(measures, str):
        raise TypeError("measures must be a set or list of measure names, not a str")
    expanded = set()
    for m in measures:
        if not isinstance(m, str):
            raise TypeError(f"measure names must be str, got {type(m).__name__}")
        expanded.update(supported_nicknames.get(m, {m}))
    params = {}
    for m in expanded:
        name, args = _split(m)
        params.setdefault(name, set()).update(args)
    return [f"{n}.{','.join(sorted(a))}" if a else n for n, a in sorted(params.items())]
