"""Graph Universal Print jobs and their documents (v1.0 and beta), the files print tasks hang on:
create a job on a printer, upload its document through an upload session, start it, read the
document back (`$value`: a 302 to a pre-authenticated URL, as Graph does).

Every printer a print task's parentUrl names exists, and so do the jobs those tasks point at: each
with one document, so a print app can follow a task to its job and its content.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import yamlfile
from ..core.paths import Routes
from ..core.profiles import graph as graph_profile
from . import api, auth, graph_print, upload_session, worldfile
from .blobs import Digests
from .graph_drive import download_url
from .http import ApiError, Later, Reply, SimRequest
from .module import ResourceModule
from .store import Transaction

if TYPE_CHECKING:
    from .world import World

HOST = "graph.microsoft.com"
UPLOAD_HOST = "print.print.microsoft.com"
UPLOAD_URL = f"https://{UPLOAD_HOST}/uploadSession?guid="
_JOBS = "/{version}/print/printers/{printer_id}/jobs"
_DOCUMENT = _JOBS + "/{job_id}/documents/{document_id}"
ROUTES = Routes(
    ("jobs", _JOBS),
    ("job", _JOBS + "/{job_id}"),
    ("start", _JOBS + "/{job_id}/start"),
    ("documents", _JOBS + "/{job_id}/documents"),
    ("document", _DOCUMENT),
    ("createUploadSession", _DOCUMENT + "/createUploadSession"),
    ("$value", _DOCUMENT + "/$value"),
)
UPLOAD_ROUTES = Routes(("upload", "/uploadSession"))
_PARENT = re.compile(r"/print/printers/([^/]+)/jobs/([^/?#]+)")
UPLOAD_PROPS = ("documentName", "contentType", "size")
JOBS = "graph:print/jobs"  # the store's collection: each job with its printer and its documents


def handle(world: World, req: SimRequest) -> Reply | Later | None:
    if req.host == UPLOAD_HOST and UPLOAD_ROUTES.match(req.path):
        return _fragment(world, req)
    found = ROUTES.match(req.path.replace("%24", "$")) if req.host == HOST else None
    if found is None or found[1]["version"] not in graph_profile.VERSIONS:
        return None
    auth.check_bearer(req)
    route, params = found
    printer, job_id, doc_id = params["printer_id"], params.get("job_id"), params.get("document_id")
    base = f"https://{HOST}/{params['version']}"
    with world.lock, world.store.transaction() as tx:
        jobs = _jobs(world, tx)
        if printer not in {j["printer"] for j in jobs.values()}:
            raise ApiError("not_found", f"The printer with id '{printer}' was not found.", code="itemNotFound")
        if job_id is None:
            return _collection(tx, req, base, printer)
        job = jobs.get(job_id)
        if job is None or job["printer"] != printer:
            raise ApiError("not_found", f"The printJob with id '{job_id}' was not found.", code="itemNotFound")
        if route == "start":
            return _start(tx, req, job)
        if route == "job":
            if req.method != "GET":
                raise ApiError("method_not_allowed")
            return api.graph_reply(req, 200, _job_view(job, base, expand=req.query.get("$expand") == "documents"))
        if route == "documents":
            if req.method != "GET":
                raise ApiError("method_not_allowed")
            return api.graph_reply(req, 200, {"value": [_document_view(d) for d in job["documents"]]})
        doc = next((d for d in job["documents"] if d["id"] == doc_id), None)
        if doc is None:
            raise ApiError("not_found", f"The printDocument with id '{doc_id}' was not found.", code="itemNotFound")
        if route == "createUploadSession":
            return _create_session(world, req, base, job, doc)
        if route == "$value":
            return _value(world, req, doc)
        if req.method != "GET":
            raise ApiError("method_not_allowed")
        return api.graph_reply(req, 200, _document_view(doc))


def _jobs(world: World, tx: Transaction) -> dict[str, dict]:
    """The world's jobs, and one for each job a print task points at that the world does not list
    (its document's few bytes written here, under the lock, when a state file keeps them)."""
    for t in graph_print.all_tasks(world):
        m = _PARENT.search(str(t.get("parentUrl", "")))
        if m and not tx.has(JOBS, m.group(2)):
            content = f"tapeproxy: simulated document of print job {m.group(2)}\n".encode()
            digests = Digests.of(content)
            job = _new_job(m.group(1), m.group(2), "processing")
            job["documents"][0].update(
                displayName=f"job-{m.group(2)}.txt",
                contentType="text/plain",
                size=len(content),
                blob=world.put_blob(content, digests),
                uploadedDateTime=api.graph_now(),
            )
            with world.content_kept(content, digests):
                tx.put(JOBS, job["id"], job)
    return {j["id"]: j for j in tx.scan(JOBS)}


def document(world: World, doc_id: str) -> dict | None:
    """A print job's document by its id (its download URL names it so)."""
    with world.store.transaction() as tx:
        for job in tx.scan(JOBS):
            for d in job["documents"]:
                if d["id"] == doc_id:
                    return d
    return None


def _new_job(printer: str, job_id: str, state: str) -> dict:
    doc = {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{printer}/{job_id}")), "displayName": "", "contentType": ""}
    return {
        "id": job_id,
        "printer": printer,
        "createdDateTime": api.graph_now(),
        "status": state,
        "configuration": {},
        "documents": [doc],
    }


def _document_view(doc: dict) -> dict:
    return {
        "id": doc["id"],
        "displayName": doc.get("displayName", ""),
        "contentType": doc.get("contentType", ""),
        "size": doc.get("size", 0),
        "uploadedDateTime": doc.get("uploadedDateTime"),
        "downloadedDateTime": None,
    }


STATES = {
    "paused": ("The job is not a candidate for processing yet.", ["uploadPending"]),
    "processing": ("The print job is being processed.", []),
}


def _job_view(job: dict, base: str, expand: bool = True) -> dict:
    description, details = STATES.get(job["status"], ("", []))
    out: dict[str, Any] = {
        "@odata.context": f"{base}/$metadata#print/printers('{job['printer']}')/jobs/$entity",
        "id": job["id"],
        "createdDateTime": job["createdDateTime"],
        "createdBy": {"displayName": "Megan Bowen", "userPrincipalName": "MeganB@contoso.com"},
        "status": {
            "state": job["status"],
            "description": description,
            "details": details,
            "isAcquiredByPrinter": False,
        },
        "configuration": job.get("configuration", {}),
        "isFetchable": job["status"] == "processing",
        "redirectedFrom": None,
        "redirectedTo": None,
        "acknowledgedDateTime": None,
        "errorCode": None,
    }
    if expand:
        out["documents"] = [_document_view(d) for d in job["documents"]]
    return out


def _collection(tx: Transaction, req: SimRequest, base: str, printer: str) -> Reply:
    if req.method == "GET":
        jobs = [_job_view(j, base, expand=False) for j in tx.scan(JOBS) if j["printer"] == printer]
        return api.graph_reply(
            req, 200, {"@odata.context": f"{base}/$metadata#print/printers('{printer}')/jobs", "value": jobs}
        )
    if req.method != "POST":
        raise ApiError("method_not_allowed")
    data = req.json()
    if not isinstance(data, dict) or not isinstance(data.get("configuration"), dict):
        raise ApiError(
            "bad_request",
            "The property 'configuration' is required: a printJobConfiguration object.",
            code="invalidRequest",
        )
    job_id = str(max((int(i) for i in tx.keys(JOBS) if i.isdigit()), default=31216) + 1)
    job = _new_job(printer, job_id, "paused")
    job["documents"][0]["id"] = str(uuid.uuid4())
    job["configuration"] = data["configuration"]
    tx.put(JOBS, job_id, job)
    return api.graph_reply(req, 201, _job_view(job, base))


def _start(tx: Transaction, req: SimRequest, job: dict) -> Reply:
    if req.method != "POST":
        raise ApiError("method_not_allowed")
    if any(not d.get("blob") for d in job["documents"]):
        raise ApiError(
            "bad_request", "The print job cannot start: its document has not been uploaded.", code="invalidRequest"
        )
    job["status"] = "processing"
    tx.put(JOBS, job["id"], job)
    description, details = STATES["processing"]
    body = {"state": "processing", "description": description, "details": details, "isAcquiredByPrinter": False}
    return api.graph_reply(
        req, 200, {"@odata.context": f"https://{HOST}/v1.0/$metadata#microsoft.graph.printJobStatus", **body}
    )


def _create_session(world: World, req: SimRequest, base: str, job: dict, doc: dict) -> Reply:
    if req.method != "POST":
        raise ApiError("method_not_allowed")
    data = req.json()
    props = data.get("properties") if isinstance(data, dict) else None
    if not isinstance(props, dict):
        raise ApiError(
            "bad_request",
            "The parameter 'properties' is required: printDocumentUploadProperties.",
            code="invalidRequest",
        )
    for name in UPLOAD_PROPS:
        if name not in props:
            raise ApiError("bad_request", f"The property '{name}' of 'properties' is required.", code="invalidRequest")
    if not isinstance(props["size"], int) or isinstance(props["size"], bool) or props["size"] < 1:
        raise ApiError("bad_request", "The property 'size' must be a positive integer.", code="invalidRequest")
    _, body = upload_session.create(
        world,
        UPLOAD_URL,
        kind="print",
        job=job["id"],
        document=doc["id"],
        expected=props["size"],
        documentName=str(props["documentName"]),
        contentType=str(props["contentType"]),
    )
    return api.graph_reply(req, 200, {"@odata.context": f"{base}/$metadata#microsoft.graph.uploadSession", **body})


def _fragment(world: World, req: SimRequest) -> Reply | Later:
    def finish(s: dict, content: bytes, digests: Digests) -> Reply:
        with world.store.transaction() as tx:
            job = tx.get(JOBS, s["job"]) or {"documents": []}
            doc = next((d for d in job["documents"] if d["id"] == s["document"]), None)
            if doc is None:
                raise ApiError("not_found", "The print job the session uploads to is gone.", code="itemNotFound")
            doc.update(
                displayName=s["documentName"],
                contentType=s["contentType"],
                size=len(content),
                blob=world.put_blob(content, digests),
                uploadedDateTime=api.graph_now(),
            )
            tx.put(JOBS, job["id"], job)
        world.changed()  # the content it replaced is freed
        return api.graph_reply(req, 201, _document_view(doc))

    return upload_session.answer(world, req, api.graph_reply, finish)


def _value(world: World, req: SimRequest, doc: dict) -> Reply:
    if req.method != "GET":
        raise ApiError("method_not_allowed")
    if not doc.get("blob"):
        raise ApiError("not_found", "The document has no content yet: upload it first.", code="itemNotFound")
    reply = api.graph_reply(req, 302)
    reply.headers.append(("Location", download_url(world, doc)))
    return reply


def load(check: yamlfile.Checker, w: World, world_doc: dict[str, dict], blobs: Path | None) -> None:
    """graph.printJobs: each with its printer's id and its documents (content as a drive item's)."""
    for i, job in enumerate(worldfile.list_of(check, world_doc["graph"].get("printJobs"), ("graph", "printJobs"))):
        keys = ("graph", "printJobs", i)
        job = dict(check.mapping(job, keys, "a print job"))
        if not job.get("printer"):
            raise check.fail(keys, "a print job needs the id of its printer")
        docs = [
            dict(check.mapping(d, keys + ("documents", j), "a document"))
            for j, d in enumerate(worldfile.list_of(check, job.get("documents"), keys + ("documents",)))
        ]
        for j, d in enumerate(docs):
            worldfile.id_of(check, d, keys + ("documents", j))
            if d.get("blob") or d.get("content") is not None:
                d["size"] = len(worldfile.content_of(check, w, d, keys + ("documents", j), blobs))
        job.update(documents=docs, status=str(job.get("status", "processing")))
        job.setdefault("createdDateTime", "2026-01-01T00:00:00Z")
        with w.store.transaction() as tx:
            tx.put(JOBS, worldfile.id_of(check, job, keys), job)


def dump(world: World) -> dict[str, dict]:
    with world.store.transaction() as tx:
        return {"graph": {"printJobs": tx.scan(JOBS)}}


def _named(world: World) -> list[str]:
    with world.store.transaction() as tx:
        return [d["blob"] for j in tx.scan(JOBS) for d in j["documents"] if d.get("blob")]


# Its part of a world file, as the world's JSON Schema has it (sim/world_schema.py builds the schema).
WORLD_SCHEMA: dict = {
    "graph": {
        "printJobs": worldfile.records(
            {
                "id": worldfile.TEXT,
                "printer": worldfile.TEXT,
                "status": {"enum": ["paused", "processing"]},
                "configuration": {"type": "object"},
                "createdDateTime": worldfile.TEXT,
                "documents": worldfile.records(
                    {
                        "id": worldfile.TEXT,
                        "displayName": worldfile.TEXT,
                        "contentType": worldfile.TEXT,
                        "content": worldfile.TEXT,
                        "blob": worldfile.TEXT,
                        "size": {"type": "integer"},
                        "uploadedDateTime": worldfile.WHEN,
                    }
                ),
            },
            required=("id", "printer"),
            description="print jobs and their documents; jobs that print tasks point at exist without being listed",
        )
    }
}


MODULE = ResourceModule(
    name="Graph print job(s)",
    on_host=lambda host: host in (HOST, UPLOAD_HOST),
    handle=handle,
    routes=(ROUTES, UPLOAD_ROUTES),
    schema=WORLD_SCHEMA,
    load=load,
    dump=dump,
    collections=(JOBS,),
    blobs=_named,
    count=lambda world: world.store.count(JOBS),
)
