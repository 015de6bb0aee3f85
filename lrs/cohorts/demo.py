"""``polku demo``: a realistic programme loaded through the real HTTP endpoints.

A forty-week development path for customer-service supervisors, run for three regional cohorts
of twelve: a pre-survey, a coaching day every six weeks with a poll, pre-reading before each,
a development assignment and a discussion between coaching days, three small-group projects,
three knowledge checks, a weekly self-assessment and a post-survey. The programme started 39
weeks before the current week, so everything up to today has happened.

The data is made the way real tools would send it: the LMS identifies people by e-mail, the
coaching workspace by its account (each member lists both), workspace statements carry the
cohort's IRI in ``grouping``, LMS ones do not. The load also does what real feeds do: a member
joins a cohort after it started (the cohort is redefined mid-load), a due date moves, some
statements are voided, some arrive weeks late (an offline sync), and one batch is sent twice.

:func:`build_plan` makes the steps (pure, deterministic for a given day and seed);
:func:`load` performs them over HTTP with urllib, against a running Polku or one started
in-process by the ``polku demo`` command.
"""

from __future__ import annotations

import base64
import json
import random
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable

ADL = "http://adlnet.gov/expapi/verbs/"
DOMAIN = "https://demo.polku.example"
WORKSPACE = "https://workspace.demo.polku.example"
PROGRAMME = "supervisors"
WEEKS = 40
OFFSET = timezone(timedelta(hours=2))  # the tools run in Finland; Polku keeps time in UTC
_IDS = uuid.UUID("8f9a3c52-7f0e-4a8e-9a51-3f2f4f0b2a61")

FIRST = ["Aino", "Eino", "Helmi", "Onni", "Sofia", "Leevi", "Aada", "Elias", "Lilja", "Väinö", "Ilona", "Toivo",
         "Venla", "Oliver", "Kerttu", "Eetu", "Siiri", "Niilo", "Enni", "Veeti", "Saga", "Aaro", "Hilla", "Lauri",
         "Emma", "Juho", "Pihla", "Mikael", "Iida", "Ville", "Vilma", "Joel", "Linnea", "Akseli", "Ella", "Rasmus"]
LAST = ["Virtanen", "Korhonen", "Mäkinen", "Nieminen", "Mäkelä", "Hämäläinen", "Laine", "Heikkinen", "Koskinen",
        "Järvinen", "Lehtonen", "Lehtinen", "Saarinen", "Salminen", "Heinonen", "Niemi", "Heikkilä", "Kinnunen"]
REGIONS = {"north": ("Supervisors, North region", 0.85), "south": ("Supervisors, South region", 0.7),
           "east": ("Supervisors, East region", 0.55)}


@dataclass
class Step:
    """One request of the load: ``programme`` / ``cohort`` (PUT ``key`` with ``body``) or ``statements``."""

    kind: str
    body: Any
    key: str = ""
    note: str = ""


@dataclass
class _Person:
    agent: dict[str, Any]
    lms: dict[str, Any]
    workspace: dict[str, Any]
    engagement: float


@dataclass
class _Generator:
    start: date
    now: datetime
    rng: random.Random
    statements: list[dict[str, Any]] = field(default_factory=list)

    def at(self, week: int, weekday: int, hour: int) -> datetime:
        day = self.start + timedelta(weeks=week, days=weekday)
        return datetime(day.year, day.month, day.day, hour, self.rng.randrange(60), self.rng.randrange(60), tzinfo=OFFSET)

    def emit(self, actor: dict, verb: str, activity: str, moment: datetime, cohort_iri: str | None = None,
             result: dict | None = None, title: str | None = None) -> dict | None:
        if moment > self.now:
            return None
        statement: dict[str, Any] = {
            "id": str(uuid.uuid5(_IDS, f"{self.start.isoformat()}/{len(self.statements)}")),
            "actor": actor,
            "verb": {"id": ADL + verb, "display": {"en-US": verb}},
            "object": {"objectType": "Activity", "id": activity},
            "timestamp": moment.isoformat(timespec="milliseconds"),
        }
        if title:
            statement["object"]["definition"] = {"name": {"en-US": title}}
        if cohort_iri:
            statement["context"] = {"contextActivities": {"grouping": [{"id": cohort_iri}, {"id": f"{DOMAIN}/programmes/{PROGRAMME}"}]}}
        if result:
            statement["result"] = result
        self.statements.append(statement)
        return statement


def _item(activity: str, title: str, kind: str, required: bool = False, due: date | None = None, measure: str | None = None):
    return {"activity": f"{DOMAIN}/{PROGRAMME}/{activity}", "title": title, "kind": kind, "required": required,
            "due": due.isoformat() if due else None, "measure": measure}


def programme_body(start: date) -> dict[str, Any]:
    coaching = [start + timedelta(weeks=6 * k, days=1) for k in range(7)]
    items = [_item("pre-survey", "Leadership pulse, before", "survey", True, start + timedelta(days=4), "pre")]
    for k, day in enumerate(coaching, 1):
        items.append(_item(f"reading-{k}", f"Pre-reading for coaching day {k}", "material"))
        items.append(_item(f"coaching-day-{k}", f"Coaching day {k}", "coaching-day", True, day))
        items.append(_item(f"poll-{k}", f"Coaching day {k} poll", "poll"))
        if k < 7:
            items.append(_item(f"assignment-{k}", f"Development assignment {k}", "assignment", True, coaching[k] - timedelta(days=1)))
            items.append(_item(f"discussion-{k}", f"Discussion after coaching day {k}", "discussion"))
        if k in (2, 4, 6):
            items.append(_item(f"knowledge-check-{k // 2}", f"Knowledge check {k // 2}", "assessment", True, day + timedelta(weeks=2)))
    for g, week in enumerate((8, 20, 32), 1):
        items.append(_item(f"group-work-{g}", f"Small-group project {g}", "group-work", True, start + timedelta(weeks=week + 3, days=-3)))
    items.append(_item("self-assessment", "Weekly self-assessment", "self-assessment"))
    items.append(_item("post-survey", "Leadership pulse, after", "survey", True, start + timedelta(weeks=WEEKS, days=-1), "post"))
    return {"name": "Customer-service supervisors' development path", "items": items}


def _people(rng: random.Random, base: float, used: set[str], count: int) -> list[_Person]:
    people = []
    while len(people) < count:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        handle = f"{first}.{last}".lower().replace("ä", "a").replace("ö", "o")
        if handle in used:
            continue
        used.add(handle)
        lms = {"objectType": "Agent", "name": f"{first} {last}", "mbox": f"mailto:{handle}@example.com"}
        workspace = {"objectType": "Agent", "name": f"{first} {last}", "account": {"homePage": WORKSPACE, "name": handle}}
        agent = {**lms, "account": workspace["account"]}
        people.append(_Person(agent, lms, workspace, min(0.98, max(0.15, rng.gauss(base, 0.12)))))
    return people


def _clamp(value: float) -> float:
    return round(min(1.0, max(0.0, value)), 2)


def _member_history(g: _Generator, p: _Person, iri: str, joined_week: int) -> None:
    """Everything one member does over the programme (weeks before ``joined_week`` are skipped)."""
    rng, e, item = g.rng, p.engagement, (lambda a: f"{DOMAIN}/{PROGRAMME}/{a}")
    pre_score = _clamp(rng.gauss(0.5, 0.1))
    growth = 0.05 + 0.3 * e
    for week in range(joined_week, WEEKS):
        k, offset = divmod(week, 6)  # coaching day k+1 falls in week 6k
        if offset == 0 and k < 7:
            if rng.random() < 0.3 + 0.7 * e:
                g.emit(p.lms, "experienced", item(f"reading-{k + 1}"), g.at(week, 0, 19))
            if rng.random() < 0.6 + 0.4 * e:
                g.emit(p.workspace, "attended", item(f"coaching-day-{k + 1}"), g.at(week, 1, 9), iri)
                if rng.random() < 0.9:
                    g.emit(p.workspace, "responded", item(f"poll-{k + 1}"), g.at(week, 1, 11), iri, {"response": rng.choice("abcd")})
        elif k < 6:
            for _ in range(int(rng.random() * 4 * e)):
                verb = rng.choice(["commented", "commented", "commented", "shared", "asked"])
                g.emit(p.workspace, verb, item(f"discussion-{k + 1}"), g.at(week, rng.randrange(5), rng.randrange(8, 18)), iri)
        if week in (8, 9, 10, 20, 21, 22, 32, 33, 34):
            n = (week - 8) // 12 + 1
            for _ in range(int(rng.random() * 3 * e)):
                g.emit(p.workspace, "commented", item(f"group-work-{n}"), g.at(week, 2, rng.randrange(9, 17)), iri)
            if week % 12 == 10 and rng.random() < 0.5 + 0.5 * e:
                g.emit(p.workspace, "completed", item(f"group-work-{n}"), g.at(week, 4, 14), iri)
        if week in (7, 19, 31) and rng.random() < 0.4 + 0.6 * e:
            n = (week - 7) // 12 + 1
            score = _clamp(rng.gauss(0.5 + 0.3 * e, 0.12))
            g.emit(p.lms, "passed" if score >= 0.6 else "failed", item(f"knowledge-check-{n}"), g.at(week, 2, 18),
                   result={"success": score >= 0.6, "score": {"scaled": score}, "completion": True})
            if score < 0.6 and rng.random() < e:
                retake = _clamp(score + rng.uniform(0.05, 0.3))
                g.emit(p.lms, "passed" if retake >= 0.6 else "failed", item(f"knowledge-check-{n}"), g.at(week + 1, 2, 18),
                       result={"success": retake >= 0.6, "score": {"scaled": retake}, "completion": True})
        if rng.random() < 0.4 + 0.6 * e:
            score = _clamp(0.4 + growth * week / WEEKS + rng.gauss(0, 0.05))
            g.emit(p.workspace, "completed", item("self-assessment"), g.at(week, 4, 16), iri,
                   {"score": {"scaled": score}, "completion": True})
        if week == joined_week and rng.random() < 0.95:
            g.emit(p.lms, "completed", item("pre-survey"), g.at(week, 2, 12), result={"score": {"scaled": pre_score}, "completion": True})
        if week == WEEKS - 1 and rng.random() < 0.4 + 0.5 * e:
            post = _clamp(pre_score + rng.gauss(0.25 * e, 0.06))
            g.emit(p.lms, "completed", item("post-survey"), g.at(week, 0, 8), result={"score": {"scaled": post}, "completion": True})
    for k in range(1, 7):  # assignments: most done between coaching days, some a little late, some never
        week = 6 * (k - 1) + 1 + rng.randrange(7)
        if week >= joined_week and rng.random() < 0.35 + 0.6 * e:
            g.emit(p.lms, "completed", item(f"assignment-{k}"), g.at(week, 3, 15), result={"completion": True})


def _voiding(g: _Generator, target: dict, moment: datetime) -> dict:
    admin = {"objectType": "Agent", "name": "Coaching workspace", "mbox": "mailto:workspace-admin@example.com"}
    return {
        "id": str(uuid.uuid5(_IDS, f"{g.start.isoformat()}/void/{target['id']}")),
        "actor": admin,
        "verb": {"id": ADL + "voided", "display": {"en-US": "voided"}},
        "object": {"objectType": "StatementRef", "id": target["id"]},
        "timestamp": moment.isoformat(timespec="milliseconds"),
    }


def build_plan(
    today: date | None = None, now: datetime | None = None, seed: int = 2026, members: int = 12
) -> list[Step]:
    """The demo's requests, in the order :func:`load` sends them (``members`` per cohort, at least 2)."""
    members = max(2, members)
    now = now or datetime.now(timezone.utc)
    today = today or now.date()
    start = today - timedelta(days=today.weekday(), weeks=WEEKS - 1)
    rng = random.Random(seed)
    g = _Generator(start, now, rng)
    used: set[str] = set()
    cohorts, late_joiner = {}, None
    for region, (name, base) in REGIONS.items():
        iri = f"{DOMAIN}/cohorts/{region}"
        people = _people(rng, base, used, members)
        coach = {"objectType": "Agent", "name": f"Coach {region.title()}", "mbox": f"mailto:coach.{region}@example.com"}
        for i, person in enumerate(people):
            joined = 5 if (region == "east" and i == members - 1) else 0
            _member_history(g, person, iri, joined)
        for week in range(WEEKS):  # the coach (not a member) keeps the discussions going
            if week % 6:
                discussion = f"{DOMAIN}/{PROGRAMME}/discussion-{min(6, week // 6 + 1)}"
                g.emit(coach, "commented", discussion, g.at(week, 1, 13), iri)
        cohorts[region] = {"name": name, "programme": PROGRAMME, "iri": iri, "starts": start.isoformat(),
                           "ends": (start + timedelta(weeks=WEEKS, days=-1)).isoformat(), "members": [p.agent for p in people]}
        if region == "east":
            late_joiner = people[-1]
    # mistakes the coaching workspace made and then voided: attendance recorded for the wrong person
    wrong = [g.emit(p.workspace, "attended", f"{DOMAIN}/{PROGRAMME}/coaching-day-2", g.at(6, 1, 9), cohorts["south"]["iri"])
             for p in _people(random.Random(seed + 1), 0.5, set(used), 3)]
    history = sorted(g.statements, key=lambda s: s["timestamp"])
    wrong_ids = {s["id"] for s in wrong if s}
    voided = rng.sample([s for s in history if s["id"] not in wrong_ids], k=len(history) // 100)
    voided += [s for s in history if s["id"] in wrong_ids]
    late_ids = {s["id"] for s in history if rng.random() < 0.03 or (
        s.get("context") and s["context"]["contextActivities"]["grouping"][0]["id"].endswith("/south")
        and s["object"]["id"].endswith("coaching-day-3"))}
    late = [s for s in history if s["id"] in late_ids]
    on_time = [s for s in history if s["id"] not in late_ids]
    half = next((i for i, s in enumerate(on_time) if s["timestamp"] >= (start + timedelta(weeks=WEEKS // 2)).isoformat()), len(on_time))
    programme = programme_body(start)
    east_before = dict(cohorts["east"], members=[m for m in cohorts["east"]["members"] if m is not late_joiner.agent])
    steps = [Step("programme", programme, PROGRAMME, "the programme")]
    steps += [Step("cohort", east_before if k == "east" else body, k, f"cohort {k}") for k, body in cohorts.items()]
    steps += _batches(on_time[:half], "statements, first twenty weeks")
    steps.append(Step("cohort", cohorts["east"], "east", "a member joins the east cohort"))
    steps += _batches(on_time[half:], "statements, last twenty weeks")
    last = datetime.combine(today, datetime.min.time(), OFFSET)
    steps += _batches([_voiding(g, s, min(now, last + timedelta(hours=8))) for s in voided], "voiding statements")
    steps += _batches(late, "late statements (an offline sync; some already voided)")
    steps += _batches(rng.sample(on_time, k=min(50, len(on_time))), "a batch sent twice")
    moved = json.loads(json.dumps(programme))
    for it in moved["items"]:
        if it["activity"].endswith("/assignment-6"):
            it["due"] = (date.fromisoformat(it["due"]) + timedelta(days=7)).isoformat()
    steps.append(Step("programme", moved, PROGRAMME, "a due date moves"))
    return steps


def _batches(statements: list[dict], note: str, size: int = 250) -> list[Step]:
    return [Step("statements", statements[i : i + size], note=note) for i in range(0, len(statements), size)]


def statements_of(plan: Iterable[Step]) -> list[dict]:
    """Every statement the plan sends, in sending order (duplicates and voiding included)."""
    return [s for step in plan if step.kind == "statements" for s in step.body]


def final_definitions(plan: Iterable[Step]) -> tuple[dict[str, dict], dict[str, dict]]:
    """(programmes, cohorts) as they stand after the plan: the last body sent for each key."""
    programmes, cohorts = {}, {}
    for step in plan:
        if step.kind == "programme":
            programmes[step.key] = step.body
        elif step.kind == "cohort":
            cohorts[step.key] = step.body
    return programmes, cohorts


# ---- loading over HTTP ---------------------------------------------------------------------

class DemoError(Exception):
    """The server refused a demo request."""


class Client:
    """Just enough HTTP for the demo: JSON requests with Basic auth, via urllib."""

    def __init__(self, base_url: str, key: str, secret: str, timeout: float = 60.0) -> None:
        self.base = base_url.rstrip("/")
        self.auth = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None, xapi: bool = False) -> tuple[int, Any]:
        headers = {"Authorization": self.auth, "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if xapi:
            headers["X-Experience-API-Version"] = "2.0.0"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", "replace")
            if error.code == 404 and method == "GET":
                return 404, None
            raise DemoError(f"{method} {path}: {error.code} {text[:300]}") from None
        except urllib.error.URLError as error:
            raise DemoError(f"{method} {path}: cannot reach {self.base} ({error.reason})") from None


def load(client: Client, plan: list[Step], progress: Callable[[Step], None] | None = None, force: bool = False) -> bool:
    """Send the plan; False (and nothing sent) when the demo programme exists and not ``force``."""
    status, _ = client.request("GET", f"/api/v1/programmes/{PROGRAMME}")
    if status == 200 and not force:
        return False
    for step in plan:
        if step.kind == "programme":
            client.request("PUT", f"/api/v1/programmes/{step.key}", step.body)
        elif step.kind == "cohort":
            client.request("PUT", f"/api/v1/cohorts/{step.key}", step.body)
        else:
            client.request("POST", "/xapi/statements", step.body, xapi=True)
        if progress:
            progress(step)
    return True
