"""What a SCIM service provider says about itself (RFC 7644 §4), read once and kept.

``/ServiceProviderConfig`` tells which features the server has (PATCH, ETags, filtering and
its page limit); ``/Schemas`` and ``/ResourceTypes`` which resources it serves, at which
endpoints, with which attributes and extensions. scim2-models turns the three answers into
a :class:`~scim2_models.ScimProvider` with a pydantic model per resource type; the plugin
checks mapping keys against the schemas and every payload against the models before
sending it, so an attribute the server does not have is refused by ``idsync check
--connect`` and before any write, naming the key and the nearest attribute there is.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from scim2_models import (
    Attribute,
    Context,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    Mutability,
    Patch,
    PatchOp,
    ResourceType,
    Schema,
    ScimProvider,
    ScimProviderError,
    ServiceProviderConfig,
    User,
)

from idsync_scim._keys import Key, KeyProblem, key_of

__all__ = ["Capabilities", "Discovery", "DiscoveryError", "ResourceKind", "discover"]


class DiscoveryError(ValueError):
    """The server's description of itself cannot be used (names what and why)."""


@dataclass(frozen=True)
class Capabilities:
    """The features the plugin uses, as the server announces them."""

    patch: bool = True
    etag: bool = True
    filter: bool = True
    max_results: int | None = None

    @classmethod
    def of(cls, config: ServiceProviderConfig | None) -> Capabilities:
        """The capabilities ``/ServiceProviderConfig`` announced (all, when it said nothing)."""
        if config is None:
            return cls()
        return cls(
            patch=bool(config.patch and config.patch.supported),
            etag=bool(config.etag and config.etag.supported),
            filter=bool(config.filter and config.filter.supported),
            max_results=config.filter.max_results if config.filter else None,
        )

    def describe(self) -> str:
        """``PATCH, ETags, filter (at most 1000)`` — for a connection message."""
        parts = [name for name, on in (("PATCH", self.patch), ("ETags", self.etag)) if on]
        if self.filter:
            parts.append(f"filter (at most {self.max_results})" if self.max_results else "filter")
        return ", ".join(parts) or "none of PATCH, ETags or filtering"


def _fold(name: str | None) -> str:
    return (name or "").casefold()


@dataclass
class ResourceKind:
    """One resource type: where it lives, its schemas and the model built from them."""

    name: str
    endpoint: str
    schema: str
    """The URN of its core schema."""
    extensions: list[str]
    model: type[Any]
    attributes: dict[tuple[str, str], Attribute] = field(default_factory=dict)
    """Top-level attributes by (schema URN folded, name folded); core under ``""``."""

    def attribute(self, key: Key) -> Attribute | None:
        """The schema's description of the attribute ``key`` designates (None: unknown)."""
        top = self.attributes.get((_fold(key.urn), _fold(key.attr)))
        if top is None or key.sub is None:
            return top
        return next((s for s in top.sub_attributes or [] if _fold(s.name) == _fold(key.sub)), None)

    def paths(self) -> Iterator[str]:
        """Every attribute path the schemas name, sub-attributes included."""
        for (urn, _), attribute in self.attributes.items():
            head = f"{self._urn(urn)}:{attribute.name}" if urn else str(attribute.name)
            yield head
            for sub in attribute.sub_attributes or []:
                yield f"{head}.{sub.name}"

    def _urn(self, folded: str) -> str:
        return next((u for u in self.extensions if _fold(u) == folded), folded)

    def key(self, text: str) -> Key:
        """Parse a mapping key against this resource's core schema."""
        return key_of(text, self.schema)

    def problem(self, text: str, reserved: Mapping[str, str] | None = None) -> str | None:
        """Why ``text`` cannot be a mapping key of this resource; None when it can."""
        try:
            key = self.key(text)
        except KeyProblem as exc:
            return str(exc)
        why = (reserved or {}).get(_fold(key.attribute)) or (reserved or {}).get(_fold(key.attr))
        if why:
            return f"{text!r} is set by the plugin itself: {why}"
        if key.urn is not None and _fold(key.urn) not in {_fold(u) for u in self.extensions}:
            known = ", ".join(self.extensions) or "none"
            return (
                f"{text!r}: the {self.name} resource has no schema extension {key.urn} "
                f"(its extensions: {known})"
            )
        attribute = self.attribute(key)
        if attribute is None:
            near = difflib.get_close_matches(key.attribute, list(self.paths()), n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            return (
                f"the SCIM server's {self.name} resource has no attribute {key.attribute!r}{hint}"
            )
        if attribute.mutability is Mutability.read_only:
            return f"{text!r} is read-only on the SCIM server"
        if key.select is not None:
            top = self.attributes.get((_fold(key.urn), _fold(key.attr)))
            subs = {_fold(s.name) for s in (top.sub_attributes if top else None) or []}
            if top is None or not top.multi_valued or _fold(key.select[0]) not in subs:
                return f"{text!r}: {key.attr} has no entries with a {key.select[0]!r} to select by"
        elif key.sub is None and attribute.type is not None and attribute.type.value == "complex":
            names = ", ".join(f"{key.attr}.{s.name}" for s in attribute.sub_attributes or [])
            return f"{text!r} is a complex attribute; map its sub-attributes ({names})"
        return None

    def create_problem(self, body: Mapping[str, Any]) -> str | None:
        """Why the server's schema refuses ``body`` as a new resource; None when it accepts it."""
        try:
            self.model.model_validate(dict(body), scim_ctx=Context.RESOURCE_CREATION_REQUEST)
        except ValidationError as exc:
            return f"the {self.name} schema refuses the new resource: {_errors(exc)}"
        return None

    def patch_problem(self, operations: Sequence[Mapping[str, Any]]) -> str | None:
        """Why the schema refuses these PATCH operations (naming each path); None when fine."""
        refused = []
        for operation in operations:
            try:
                PatchOp[self.model].model_validate(  # type: ignore[name-defined]
                    {
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [dict(operation)],
                    },
                    scim_ctx=Context.RESOURCE_PATCH_REQUEST,
                )
            except ValidationError as exc:
                where = operation.get("path") or "(no path)"
                refused.append(f"{operation.get('op')} {where}: {_errors(exc)}")
        if refused:
            return f"the {self.name} schema refuses the change: {'; '.join(refused)}"
        return None


def _errors(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("Operations",))
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


@dataclass
class Discovery:
    """Everything the server said about itself, or the RFC 7643 defaults."""

    capabilities: Capabilities
    kinds: dict[str, ResourceKind]
    """Resource types by name, folded."""
    discovered: bool = True
    """False when the defaults stand in (discovery off)."""

    def kind(self, name: str) -> ResourceKind:
        """The resource type named ``name``; raises :class:`DiscoveryError` naming the known."""
        found = self.kinds.get(_fold(name))
        if found is None:
            known = ", ".join(k.name for k in self.kinds.values()) or "none"
            raise DiscoveryError(f"the SCIM server has no resource type {name!r} (it has: {known})")
        return found

    def describe(self) -> str:
        """``User (+ enterprise extension), Group; PATCH, ETags, filter``."""
        kinds = []
        for kind in self.kinds.values():
            extra = f" (+ {len(kind.extensions)} extension(s))" if kind.extensions else ""
            kinds.append(f"{kind.name} at {kind.endpoint}{extra}")
        where = "" if self.discovered else " (discovery off: RFC 7643 defaults)"
        return f"{', '.join(kinds)}; {self.capabilities.describe()}{where}"


COMMON = [
    Attribute(name="id", type=Attribute.Type.string, mutability=Mutability.read_only),
    Attribute(name="externalId", type=Attribute.Type.string, mutability=Mutability.read_write),
    Attribute(name="meta", type=Attribute.Type.complex, mutability=Mutability.read_only),
]
"""The attributes every resource has (RFC 7643 §3.1), which schemas do not list."""


def _kinds(provider: ScimProvider, schemas: Iterable[Schema]) -> dict[str, ResourceKind]:
    by_urn = {_fold(s.id): s for s in schemas}
    kinds: dict[str, ResourceKind] = {}
    for rt in provider.resource_types:
        model = provider.model_for(rt)
        core = by_urn.get(_fold(rt.schema_))
        if model is None or core is None or not rt.name or not rt.endpoint:
            continue
        extensions = [str(e.schema_) for e in rt.schema_extensions or []]
        attributes: dict[tuple[str, str], Attribute] = {
            ("", _fold(a.name)): a for a in [*COMMON, *(core.attributes or [])]
        }
        for urn in extensions:
            for a in (by_urn.get(_fold(urn)) or Schema(id=urn)).attributes or []:
                attributes[(_fold(urn), _fold(a.name))] = a
        endpoint = "/" + str(rt.endpoint).strip("/")
        kinds[_fold(rt.name)] = ResourceKind(
            name=str(rt.name),
            endpoint=endpoint,
            schema=str(rt.schema_),
            extensions=extensions,
            model=model,
            attributes=attributes,
        )
    return kinds


def defaults() -> Discovery:
    """RFC 7643's resources (User with the enterprise extension, Group) and every feature."""
    schemas = [User.to_schema(), EnterpriseUser.to_schema(), Group.to_schema()]
    types = [ResourceType.from_resource(User[EnterpriseUser]), ResourceType.from_resource(Group)]
    config = ServiceProviderConfig(
        patch=Patch(supported=True), etag=ETag(supported=True), filter=Filter(supported=True)
    )
    provider = ScimProvider(models=[User, EnterpriseUser, Group], resource_types=types)
    return Discovery(Capabilities.of(config), _kinds(provider, schemas), discovered=False)


def _listed(answer: Any, what: str) -> list[Any]:
    if isinstance(answer, list):  # some servers answer a bare array
        return answer
    if isinstance(answer, dict) and isinstance(answer.get("Resources"), list):
        return list(answer["Resources"])
    raise DiscoveryError(f"{what} answered neither a list response nor a list")


def discover(config: Any, schemas: Any, resource_types: Any) -> Discovery:
    """Build the :class:`Discovery` from the three endpoints' JSON answers.

    ``config`` may be None (a server without ``/ServiceProviderConfig``: every feature is
    assumed). Raises :class:`DiscoveryError` naming the endpoint whose answer is unusable.
    """
    try:
        spc = ServiceProviderConfig.model_validate(config) if config is not None else None
        found = [Schema.model_validate(s) for s in _listed(schemas, "/Schemas")]
        types = [ResourceType.model_validate(r) for r in _listed(resource_types, "/ResourceTypes")]
    except ValidationError as exc:
        raise DiscoveryError(f"the discovery answers are not SCIM: {_errors(exc)}") from exc
    try:
        provider = ScimProvider.from_discovery(found, types, config=spc)
    except ScimProviderError as exc:
        raise DiscoveryError(f"the server's schemas and resource types disagree: {exc}") from exc
    return Discovery(Capabilities.of(spc), _kinds(provider, found))
