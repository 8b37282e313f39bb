"""Values a person would believe, for generated records: a property's value from its name and its
owner's seed, the same for the same seed. One entity's properties share its seed, so a made-up
user's names, mail and principal name are one person's. Dates are near the day the answer is made
(before it for what happened, after it for what is due), on the tenant's domain.
"""

from __future__ import annotations

import datetime
import hashlib
import uuid

from ..profiles import graph as graph_profile

FIRST = (
    "Adele Alex Diego Grady Henrietta Isaiah Johanna Joni Lee Lidia Lynne Megan Miriam Nestor Patti Pradeep "
    "Irvin Christie Ben Allan Debra Enrico Cameron Emily Raul Sanjay Nina Tomas Aiko Fatima"
).split()
LAST = (
    "Vance Wilber Siciliani Archie Mueller Langer Lorenz Sherman Gu Holloway Robbins Bowen Graham Wilke "
    "Fernandez Gupta Sayers Cline Andrews Deyoung Zimmerman Catteneo White Reyes Rao Patel Novak Tanaka Khan"
).split()
DEPARTMENTS = "Marketing Sales Finance Engineering Legal Operations Retail Research Manufacturing HR".split()
TITLES = (
    "Marketing Manager",
    "Product Manager",
    "Sales Representative",
    "Financial Analyst",
    "Software Engineer",
    "Paralegal",
    "Operations Lead",
    "Research Scientist",
    "Plant Manager",
    "HR Generalist",
)
CITIES = (
    ("Redmond", "WA", "98052", "United States", "US"),
    ("Seattle", "WA", "98101", "United States", "US"),
    ("Charlotte", "NC", "28202", "United States", "US"),
    ("Chicago", "IL", "60601", "United States", "US"),
    ("Toronto", "ON", "M5H 2N2", "Canada", "CA"),
    ("Dublin", "Leinster", "D02 X285", "Ireland", "IE"),
    ("Munich", "Bavaria", "80331", "Germany", "DE"),
)
STREETS = ("One Microsoft Way", "123 Pine Street", "4567 Main Street", "88 Harbour Road", "12 Lakeview Drive")
OFFICES = ("18/2111", "131/1104", "24/1106", "19/3123", "20/1101", "23/2102")
TOPICS = (
    "Q4 launch plan",
    "Budget review",
    "Customer onboarding",
    "Quarterly business review",
    "Contoso rebrand",
    "Product roadmap",
    "Security training",
    "Vendor contracts",
    "Holiday schedule",
    "Team offsite",
)
TEAMS = ("Marketing", "Sales Team", "Finance", "Engineering", "Legal", "Operations", "Retail", "Leadership")
FILES = (
    ("Contract.pdf", "application/pdf"),
    ("Q3 Budget.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("Launch plan.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ("Meeting notes.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("Logo.png", "image/png"),
)
TIME_ZONES = ("Pacific Standard Time", "Eastern Standard Time", "GMT Standard Time", "W. Europe Standard Time")
LATER = ("expir", "end", "due", "until", "renew", "deadline", "valid", "next")


def pick(seed: str, name: str, options: tuple | list):
    """One of the options, by the seed and the property (two properties of one entity pick apart)."""
    digest = hashlib.sha256(f"{seed}/{name}".encode()).digest()
    return options[int.from_bytes(digest[:4], "big") % len(options)]


def person(seed: str) -> tuple[str, str]:
    return pick(seed, "first", FIRST), pick(seed, "last", LAST)


def _mail(seed: str) -> str:
    first, last = person(seed)
    return f"{first}{last[0]}@{graph_profile.TENANT_DOMAIN}"


def string(name: str, seed: str, owner: str = "") -> str:
    """A string for a property of this name (owner: the type holding it, for what depends on it)."""
    n = name.lower()
    first, last = person(seed)
    city = pick(seed, "city", CITIES)
    group = owner.rsplit(".", 1)[-1].lower() in ("group", "team", "channel")
    if group and n in ("mail", "mailnickname"):
        nickname = pick(seed, "displayname", TEAMS).replace(" ", "").lower()
        return nickname if n == "mailnickname" else f"{nickname}@{graph_profile.TENANT_DOMAIN}"
    if n in ("mail", "userprincipalname") or n.endswith(("address", "email", "emailaddress")):
        return _mail(seed)
    if n == "displayname":
        kind = owner.rsplit(".", 1)[-1].lower()
        if kind in ("user", "person", "contact", "orgcontact", "emailaddress", "identity", "recipient"):
            return f"{first} {last}"
        if kind in ("group", "team", "channel"):
            return pick(seed, n, TEAMS)
        return pick(seed, n, TOPICS)
    exact = {
        "givenname": first,
        "surname": last,
        "name": f"{first} {last}" if "identity" in owner.lower() or "email" in owner.lower() else pick(seed, n, TOPICS),
        "mailnickname": f"{first}{last[0]}",
        "nickname": first,
        "initials": first[0] + last[0],
        "jobtitle": pick(seed, "title", TITLES),
        "department": pick(seed, "department", DEPARTMENTS),
        "companyname": graph_profile.TENANT_NAME,
        "officelocation": pick(seed, n, OFFICES),
        "city": city[0],
        "state": city[1],
        "postalcode": city[2],
        "country": city[3],
        "countryorregion": city[3],
        "countrylettercode": city[4],
        "usagelocation": city[4],
        "preferredlanguage": "en-US",
        "streetaddress": pick(seed, n, STREETS),
        "street": pick(seed, n, STREETS),
        "subject": pick(seed, n, TOPICS),
        "title": pick(seed, n, TOPICS),
        "topic": pick(seed, n, TOPICS),
        "description": f"{pick(seed, n, TOPICS)} for the {pick(seed, 'department', DEPARTMENTS)} team",
        "bodypreview": f"Hi {first}, here is the latest on {pick(seed, 'subject', TOPICS).lower()}.",
        "content": f"Hi {first}, here is the latest on {pick(seed, 'subject', TOPICS).lower()}.",
        "timezone": pick(seed, n, TIME_ZONES),
        "mimetype": pick(seed, "file", FILES)[1],
        "filename": pick(seed, "file", FILES)[0],
        "classification": "General",
        "visibility": "Private",
        "aboutme": f"{pick(seed, 'title', TITLES)}, {pick(seed, 'department', DEPARTMENTS)}",
        "version": "1.0",
        "locale": "en-US",
        "language": "en-US",
    }
    if n in exact:
        return exact[n]
    if n.endswith(("phone", "phones", "phonenumber", "faxnumber")):
        digits = int(hashlib.sha256(f"{seed}/{n}".encode()).hexdigest()[:8], 16)
        return f"+1 425 555 {digits % 10000:04d}"
    if n.endswith(("url", "uri", "link")):
        site = pick(seed, n, TEAMS).replace(" ", "")
        return f"https://{graph_profile.TENANT_NAME.lower()}.sharepoint.com/sites/{site}"
    if n.endswith(("id", "ids")) or n in ("changekey", "etag", "ctag"):
        return str(_uuid(seed, n))
    return pick(seed, n, TOPICS)


def boolean(name: str) -> bool:
    """Live objects are on: enabled, active, visible; every other flag is off."""
    n = name.lower()
    return n in ("accountenabled", "isenabled", "enabled", "isactive", "active", "isvisible")


def moment(name: str, seed: str, today: datetime.date | None = None) -> datetime.datetime:
    """A time near today: in the past 60 days, or the next 60 for what is due or ends."""
    today = today or datetime.datetime.now(datetime.UTC).date()
    digest = hashlib.sha256(f"{seed}/{name}".encode()).digest()
    days, minutes = 1 + digest[0] % 60, (8 * 60 + digest[1] * 2) % (24 * 60)
    sign = 1 if any(w in name.lower() for w in LATER) else -1
    start = datetime.datetime.combine(today, datetime.time(), datetime.UTC)
    return start + datetime.timedelta(days=sign * days, minutes=minutes)


def integer(name: str, seed: str) -> int:
    n = name.lower()
    digest = int(hashlib.sha256(f"{seed}/{n}".encode()).hexdigest()[:8], 16)
    if "size" in n or n.endswith(("bytes", "length")):
        return 1024 * (16 + digest % 4096)
    if "count" in n or n.startswith("total"):
        return digest % 25
    return 1 + digest % 10


def _uuid(seed: str, name: str) -> uuid.UUID:
    return uuid.UUID(hashlib.sha256(f"{seed}/{name}".encode()).hexdigest()[:32])
