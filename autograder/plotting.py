"""One look for every figure in the course: readable sizes, labelled axes, a colour-blind-safe cycle."""
import matplotlib as mpl

# Okabe-Ito palette: distinguishable with the common forms of colour blindness.
COLORS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def use_course_style():
    """Set matplotlib's defaults for the book and the exercises (call once per notebook)."""
    mpl.rcParams.update({
        "figure.figsize": (6.4, 3.8),
        "figure.dpi": 110,
        "savefig.dpi": 110,
        "font.size": 11,
        "axes.titlesize": 12,
        "axes.labelsize": 11,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.prop_cycle": mpl.cycler(color=COLORS),
        "legend.frameon": False,
        "lines.linewidth": 1.8,
        "image.cmap": "viridis",
    })
