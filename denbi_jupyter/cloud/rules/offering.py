"""Which sites offer an image: an active image named exactly so, per site.

Asking the sites is I/O (one Glance ``name`` filter per site, see
:func:`denbi_jupyter.cloud.sites_offering` and the image panel); the verdict from what they
answered is :func:`offering`, here, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from denbi_jupyter.cloud.types import Image

__all__ = ["offered_sites", "offering", "offers"]


def offers(images: Iterable[Image], image_name: str) -> bool:
    """True when one of ``images`` is active and named exactly ``image_name``."""
    return any(image.status == "active" and image.name == image_name for image in images)


def offering(
    answers: Mapping[str, Iterable[Image] | None], image_name: str
) -> dict[str, bool | None]:
    """Site → True (offers it), False (does not) or None (could not be asked), per answer.

    Args:
        answers: Per site, the images its Glance returned for the name, or None when the
            site could not be asked (unreachable, credentials refused).
        image_name: The exact image name.
    """
    return {
        site: None if images is None else offers(images, image_name)
        for site, images in answers.items()
    }


def offered_sites(answers: Mapping[str, Iterable[Image] | None], image_name: str) -> list[str]:
    """The sorted names of the sites that offer ``image_name``."""
    return sorted(site for site, ok in offering(answers, image_name).items() if ok)
