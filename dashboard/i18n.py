"""The dashboard's two languages, English and Finnish: the words, and numbers and dates written
the way each language writes them (Finnish: decimal comma, ``86 %``, ``29.11.2026 klo 14.05``).

The language is the one the reader chose with the switch (kept in the session), else the best
of ``Accept-Language``, else English. Times are shown in UTC, as the API gives them, and say so.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timezone

from werkzeug.datastructures import LanguageAccept

LANGUAGES = ("en", "fi")
NAMES = {"en": "English", "fi": "suomi"}
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: English text -> Finnish. A text missing here is shown in English.
FINNISH: dict[str, str] = {
    "Polku dashboard": "Polku-näkymä",
    "Skip to content": "Siirry sisältöön",
    "Cohorts": "Ryhmät",
    "Statements": "Lausumat",
    "Sign in": "Kirjaudu sisään",
    "Sign out": "Kirjaudu ulos",
    "Signed in as": "Kirjautunut:",
    "Language": "Kieli",
    "Switch": "Vaihda",
    "Key": "Avain",
    "Secret": "Salaisuus",
    "Sign in with a credential's key and secret. The credential needs the scope analytics or admin.":
        "Kirjaudu tunnuksen avaimella ja salaisuudella. Tunnuksella pitää olla oikeus analytics tai admin.",
    "Unknown key or wrong secret.": "Tuntematon avain tai väärä salaisuus.",
    "This credential has neither the analytics nor the admin scope.": "Tällä tunnuksella ei ole oikeutta analytics eikä admin.",
    "The form has expired; please try again.": "Lomake on vanhentunut; yritä uudelleen.",
    "You have signed out.": "Olet kirjautunut ulos.",
    "Cohort": "Ryhmä",
    "Programme": "Ohjelma",
    "Members": "Jäseniä",
    "Member": "Jäsen",
    "On track": "Aikataulussa",
    "Overdue": "Myöhässä",
    "Overdue items": "Myöhässä olevia tehtäviä",
    "Last activity": "Viimeksi aktiivinen",
    "Runs": "Kesto",
    "No cohorts are defined yet.": "Ryhmiä ei ole vielä määritelty.",
    "members with no overdue required item": "jäsenet, joilla ei ole myöhässä olevia pakollisia tehtäviä",
    "Progress": "Eteneminen",
    "Engagement": "Osallistuminen",
    "Success": "Tulokset",
    "How these numbers are defined": "Miten luvut on määritelty",
    "Download CSV": "Lataa CSV",
    "As of": "Päivänä",
    "Show": "Näytä",
    "From": "Alkaen",
    "To": "Asti",
    "Done": "Tehty",
    "In progress": "Kesken",
    "Not due": "Ei vielä erääntynyt",
    "Not started": "Ei aloitettu",
    "Status": "Tila",
    "Due": "Määräpäivä",
    "no due date": "ei määräpäivää",
    "Required items": "Pakolliset tehtävät",
    "Completed": "Suoritettu",
    "Legend": "Selitteet",
    "Sort by": "Järjestä",
    "ascending": "nousevasti",
    "descending": "laskevasti",
    "Name": "Nimi",
    "Weekly activity": "Viikoittainen aktiivisuus",
    "Week": "Viikko",
    "Active members": "Aktiivisia jäseniä",
    "Contributions": "Kommentit ja vastaukset",
    "Active days": "Aktiivisia päiviä",
    "Weekly line": "Viikkokäyrä",
    "Gone quiet": "Hiljentyneet",
    "No activity in the last": "Ei aktiivisuutta viimeiseen",
    "weeks": "viikkoon",
    "Nobody has gone quiet.": "Kukaan ei ole hiljentynyt.",
    "never active": "ei koskaan aktiivinen",
    "Statements per week": "Lausumia viikossa",
    "Pass rate": "Läpäisyaste",
    "Mean scaled score": "Pisteiden keskiarvo",
    "Mean self-assessment change": "Itsearvioinnin muutos keskimäärin",
    "Mean pre/post survey change": "Alku- ja loppukyselyn muutos keskimäärin",
    "Assessments": "Arvioinnit",
    "Assessment": "Arviointi",
    "Attempted": "Yrittäneet",
    "Passed": "Läpäisseet",
    "Score distribution": "Pisteiden jakauma",
    "Self-assessment": "Itsearviointi",
    "First": "Ensimmäinen",
    "Latest": "Viimeisin",
    "Change": "Muutos",
    "Count": "Määrä",
    "Pre/post change": "Alku/loppu-muutos",
    "Assessments passed": "Läpäistyt arvioinnit",
    "Timeline": "Aikajana",
    "Verb": "Verbi",
    "Object": "Kohde",
    "Result": "Tulos",
    "Time": "Aika",
    "Items done and due": "Tehdyt ja erääntyvät tehtävät",
    "Self-assessment trend": "Itsearvioinnin kehitys",
    "No self-assessments yet.": "Ei vielä itsearviointeja.",
    "No statements yet.": "Ei vielä lausumia.",
    "latest statements counted for this cohort": "viimeisintä tälle ryhmälle laskettua lausumaa",
    "Filter": "Suodata",
    "Agent": "Toimija",
    "Activity": "Aktiviteetti",
    "Registration": "Rekisteröinti",
    "Since": "Alkaen",
    "Until": "Asti",
    "Stored": "Tallennettu",
    "Actor": "Tekijä",
    "Next page": "Seuraava sivu",
    "First page": "Ensimmäinen sivu",
    "No statements match.": "Yksikään lausuma ei täsmää.",
    "Show JSON": "Näytä JSON",
    "an e-mail address, or an Agent as JSON": "sähköpostiosoite tai toimija JSON-muodossa",
    "This page needs a credential that may read statements (statements/read, all/read or admin).":
        "Tämä sivu vaatii tunnuksen, jolla saa lukea lausumia (statements/read, all/read tai admin).",
    "Updated": "Päivitetty",
    "Everything recorded up to": "Mukana kaikki, mikä on kirjattu ennen:",
    "live": "päivittyy",
    "Something is wrong": "Jokin meni vikaan",
    "Back to the cohorts": "Takaisin ryhmiin",
    "success": "onnistui",
    "failure": "epäonnistui",
    "score": "pisteet",
    "completed": "suoritettu",
    "none": "ei mitään",
    "yes": "kyllä",
    "no": "ei",
    "The cohort's members, each member's status on each required item.": "Ryhmän jäsenet ja kunkin tila jokaisessa pakollisessa tehtävässä.",
}


def choose(chosen: str | None, accept: LanguageAccept) -> str:
    """The reader's language: the switch's choice, else Accept-Language, else English."""
    if chosen in LANGUAGES:
        return chosen  # type: ignore[return-value]
    return accept.best_match(LANGUAGES, default="en") or "en"


class Locale:
    """Words and formats of one language."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else "en"
        self.fi = self.language == "fi"

    def t(self, text: str) -> str:
        return FINNISH.get(text, text) if self.fi else text

    def number(self, value: float | int | None, digits: int = 2) -> str:
        if value is None:
            return "–"
        if isinstance(value, int):
            text = f"{value:,d}"
        else:
            text = f"{value:,.{digits}f}"
        if self.fi:  # Finnish: space (no-break) between thousands, comma for decimals, a real minus
            text = text.replace(",", "\u00a0").replace(".", ",").replace("-", "\u2212")
        return text

    def signed(self, value: float | None, digits: int = 2) -> str:
        if value is None:
            return "–"
        return ("+" if value > 0 else "") + self.number(value, digits)

    def percent(self, ratio: float | None) -> str:
        """A ratio as a whole percentage, for people (the API keeps the exact ratio)."""
        if ratio is None:
            return "–"
        whole = math.floor(ratio * 100 + 0.5)  # half up, as people round (Python's round() goes to even)
        return f"{whole}\u00a0%" if self.fi else f"{whole}%"

    def date(self, value: str | date | None) -> str:
        if not value:
            return "–"
        day = date.fromisoformat(value[:10]) if isinstance(value, str) else value
        if self.fi:
            return f"{day.day}.{day.month}.{day.year}"
        return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"

    def moment(self, value: str | None) -> str:
        """A UTC timestamp of the API, as date and time, marked UTC."""
        if not value:
            return "–"
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if at.tzinfo is not None:
            at = at.astimezone(timezone.utc)
        if self.fi:
            return f"{self.date(at.date())} klo {at.hour}.{at.minute:02d} UTC"
        return f"{self.date(at.date())}, {at.hour:02d}:{at.minute:02d} UTC"

    def clock(self, at: datetime) -> str:
        return f"{at.hour}.{at.minute:02d}.{at.second:02d}" if self.fi else f"{at.hour:02d}:{at.minute:02d}:{at.second:02d}"

    def week(self, label: str) -> str:
        """``2026-W05`` as a short label: ``W5`` (``vko 5`` in Finnish)."""
        number = int(label.rsplit("W", 1)[1])
        return f"vko {number}" if self.fi else f"W{number}"
