"""What every part of one OpenAPI document reads: the manager's models, options and names.

Built once per document (openapi.py) and handed to the parts that write it (components,
model schemas, parameters, operations, paths), so they agree on component names::

    context = DocumentContext.of(api)
    context.names["houses"]            # "House": the component name of its schema
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._jsonschema import camel, component_name
from ._site import target_of

if TYPE_CHECKING:
    from ._site import APISite
    from .model_info import ModelInfo, RelationInfo
    from .options import APIOptions


@dataclass(frozen=True)
class DocumentContext:
    """The manager as one document sees it (its models and options at the time of building)."""

    site: APISite
    options: APIOptions
    infos: dict[str, ModelInfo]
    #: collection → component name of its schema (the class name, unless two share it)
    names: dict[str, str]

    @classmethod
    def of(cls, site: APISite) -> DocumentContext:
        infos = dict(site.models)
        by_class: dict[str, list[ModelInfo]] = {}
        for info in infos.values():
            by_class.setdefault(info.name, []).append(info)
        names = {
            info.collection: component_name(
                info.name if len(by_class[info.name]) == 1 else camel(info.collection)
            )
            for info in infos.values()
        }
        return cls(site, site.options, infos, names)

    @property
    def prefix(self) -> str:
        return self.options.url_prefix

    def info_for(self, model: type) -> ModelInfo | None:
        return self.site.info_for(model)

    def target(self, relation: RelationInfo) -> ModelInfo:
        """The model a relation leads to (always exposed: the manager drops the others)."""
        return target_of(self.site, relation)


def model_description(info: ModelInfo) -> str:
    """The model's description: its docstring's, else one naming its table."""
    if info.description:
        return info.description
    return f"The {info.name} model (table `{info.collection}`)."
