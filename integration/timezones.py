"""Resolve partner times that come without a UTC offset.

Carriers stamp scans in the local time of the scan location and many formats drop the
offset (AfterShip ``checkpoint_time``, Shippo test data, X12 without a time code). This
module turns a location (country, state/province, city) into an IANA zone and applies
it, and it handles the date-only estimates partners encode as midnight, whose date must
survive in the destination's zone (reference rules 11.5.2 and 11.5.3).

Only the standard library is used (:mod:`zoneinfo` over the system tz database), so the
module runs both inside Odoo and in the pure test suite.
"""

import re
import unicodedata
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# alpha-2:alpha-3:zone for every ISO 3166-1 country. Built from the tz database's
# zone.tab: countries with one zone get it; multi-zone countries get the zone of most of
# their population when the others are marginal (islands, a strip of one state), and
# "-" when no single guess is safe (US, CA, AU, RU, ID), so that the region or city
# tables below, or the caller's fallback, decide instead of a confident wrong hour.
_COUNTRIES = """
    AD:AND:Europe/Andorra AE:ARE:Asia/Dubai AF:AFG:Asia/Kabul AG:ATG:America/Antigua AI:AIA:America/Anguilla
    AL:ALB:Europe/Tirane AM:ARM:Asia/Yerevan AO:AGO:Africa/Luanda AQ:ATA:- AR:ARG:America/Argentina/Buenos_Aires
    AS:ASM:Pacific/Pago_Pago AT:AUT:Europe/Vienna AU:AUS:- AW:ABW:America/Aruba AX:ALA:Europe/Mariehamn
    AZ:AZE:Asia/Baku BA:BIH:Europe/Sarajevo BB:BRB:America/Barbados BD:BGD:Asia/Dhaka BE:BEL:Europe/Brussels
    BF:BFA:Africa/Ouagadougou BG:BGR:Europe/Sofia BH:BHR:Asia/Bahrain BI:BDI:Africa/Bujumbura
    BJ:BEN:Africa/Porto-Novo BL:BLM:America/St_Barthelemy BM:BMU:Atlantic/Bermuda BN:BRN:Asia/Brunei
    BO:BOL:America/La_Paz BQ:BES:America/Kralendijk BR:BRA:America/Sao_Paulo BS:BHS:America/Nassau
    BT:BTN:Asia/Thimphu BV:BVT:- BW:BWA:Africa/Gaborone BY:BLR:Europe/Minsk BZ:BLZ:America/Belize CA:CAN:-
    CC:CCK:Indian/Cocos CD:COD:Africa/Kinshasa CF:CAF:Africa/Bangui CG:COG:Africa/Brazzaville
    CH:CHE:Europe/Zurich CI:CIV:Africa/Abidjan CK:COK:Pacific/Rarotonga CL:CHL:America/Santiago
    CM:CMR:Africa/Douala CN:CHN:Asia/Shanghai CO:COL:America/Bogota CR:CRI:America/Costa_Rica
    CU:CUB:America/Havana CV:CPV:Atlantic/Cape_Verde CW:CUW:America/Curacao CX:CXR:Indian/Christmas
    CY:CYP:Asia/Nicosia CZ:CZE:Europe/Prague DE:DEU:Europe/Berlin DJ:DJI:Africa/Djibouti
    DK:DNK:Europe/Copenhagen DM:DMA:America/Dominica DO:DOM:America/Santo_Domingo DZ:DZA:Africa/Algiers
    EC:ECU:America/Guayaquil EE:EST:Europe/Tallinn EG:EGY:Africa/Cairo EH:ESH:Africa/El_Aaiun
    ER:ERI:Africa/Asmara ES:ESP:Europe/Madrid ET:ETH:Africa/Addis_Ababa FI:FIN:Europe/Helsinki
    FJ:FJI:Pacific/Fiji FK:FLK:Atlantic/Stanley FM:FSM:Pacific/Pohnpei FO:FRO:Atlantic/Faroe FR:FRA:Europe/Paris
    GA:GAB:Africa/Libreville GB:GBR:Europe/London GD:GRD:America/Grenada GE:GEO:Asia/Tbilisi
    GF:GUF:America/Cayenne GG:GGY:Europe/Guernsey GH:GHA:Africa/Accra GI:GIB:Europe/Gibraltar
    GL:GRL:America/Nuuk GM:GMB:Africa/Banjul GN:GIN:Africa/Conakry GP:GLP:America/Guadeloupe
    GQ:GNQ:Africa/Malabo GR:GRC:Europe/Athens GS:SGS:Atlantic/South_Georgia GT:GTM:America/Guatemala
    GU:GUM:Pacific/Guam GW:GNB:Africa/Bissau GY:GUY:America/Guyana HK:HKG:Asia/Hong_Kong HM:HMD:-
    HN:HND:America/Tegucigalpa HR:HRV:Europe/Zagreb HT:HTI:America/Port-au-Prince HU:HUN:Europe/Budapest
    ID:IDN:- IE:IRL:Europe/Dublin IL:ISR:Asia/Jerusalem IM:IMN:Europe/Isle_of_Man IN:IND:Asia/Kolkata
    IO:IOT:Indian/Chagos IQ:IRQ:Asia/Baghdad IR:IRN:Asia/Tehran IS:ISL:Atlantic/Reykjavik IT:ITA:Europe/Rome
    JE:JEY:Europe/Jersey JM:JAM:America/Jamaica JO:JOR:Asia/Amman JP:JPN:Asia/Tokyo KE:KEN:Africa/Nairobi
    KG:KGZ:Asia/Bishkek KH:KHM:Asia/Phnom_Penh KI:KIR:Pacific/Tarawa KM:COM:Indian/Comoro
    KN:KNA:America/St_Kitts KP:PRK:Asia/Pyongyang KR:KOR:Asia/Seoul KW:KWT:Asia/Kuwait KY:CYM:America/Cayman
    KZ:KAZ:Asia/Almaty LA:LAO:Asia/Vientiane LB:LBN:Asia/Beirut LC:LCA:America/St_Lucia LI:LIE:Europe/Vaduz
    LK:LKA:Asia/Colombo LR:LBR:Africa/Monrovia LS:LSO:Africa/Maseru LT:LTU:Europe/Vilnius
    LU:LUX:Europe/Luxembourg LV:LVA:Europe/Riga LY:LBY:Africa/Tripoli MA:MAR:Africa/Casablanca
    MC:MCO:Europe/Monaco MD:MDA:Europe/Chisinau ME:MNE:Europe/Podgorica MF:MAF:America/Marigot
    MG:MDG:Indian/Antananarivo MH:MHL:Pacific/Majuro MK:MKD:Europe/Skopje ML:MLI:Africa/Bamako
    MM:MMR:Asia/Yangon MN:MNG:Asia/Ulaanbaatar MO:MAC:Asia/Macau MP:MNP:Pacific/Saipan MQ:MTQ:America/Martinique
    MR:MRT:Africa/Nouakchott MS:MSR:America/Montserrat MT:MLT:Europe/Malta MU:MUS:Indian/Mauritius
    MV:MDV:Indian/Maldives MW:MWI:Africa/Blantyre MX:MEX:America/Mexico_City MY:MYS:Asia/Kuala_Lumpur
    MZ:MOZ:Africa/Maputo NA:NAM:Africa/Windhoek NC:NCL:Pacific/Noumea NE:NER:Africa/Niamey
    NF:NFK:Pacific/Norfolk NG:NGA:Africa/Lagos NI:NIC:America/Managua NL:NLD:Europe/Amsterdam NO:NOR:Europe/Oslo
    NP:NPL:Asia/Kathmandu NR:NRU:Pacific/Nauru NU:NIU:Pacific/Niue NZ:NZL:Pacific/Auckland OM:OMN:Asia/Muscat
    PA:PAN:America/Panama PE:PER:America/Lima PF:PYF:Pacific/Tahiti PG:PNG:Pacific/Port_Moresby
    PH:PHL:Asia/Manila PK:PAK:Asia/Karachi PL:POL:Europe/Warsaw PM:SPM:America/Miquelon PN:PCN:Pacific/Pitcairn
    PR:PRI:America/Puerto_Rico PS:PSE:Asia/Hebron PT:PRT:Europe/Lisbon PW:PLW:Pacific/Palau
    PY:PRY:America/Asuncion QA:QAT:Asia/Qatar RE:REU:Indian/Reunion RO:ROU:Europe/Bucharest
    RS:SRB:Europe/Belgrade RU:RUS:- RW:RWA:Africa/Kigali SA:SAU:Asia/Riyadh SB:SLB:Pacific/Guadalcanal
    SC:SYC:Indian/Mahe SD:SDN:Africa/Khartoum SE:SWE:Europe/Stockholm SG:SGP:Asia/Singapore
    SH:SHN:Atlantic/St_Helena SI:SVN:Europe/Ljubljana SJ:SJM:Arctic/Longyearbyen SK:SVK:Europe/Bratislava
    SL:SLE:Africa/Freetown SM:SMR:Europe/San_Marino SN:SEN:Africa/Dakar SO:SOM:Africa/Mogadishu
    SR:SUR:America/Paramaribo SS:SSD:Africa/Juba ST:STP:Africa/Sao_Tome SV:SLV:America/El_Salvador
    SX:SXM:America/Lower_Princes SY:SYR:Asia/Damascus SZ:SWZ:Africa/Mbabane TC:TCA:America/Grand_Turk
    TD:TCD:Africa/Ndjamena TF:ATF:Indian/Kerguelen TG:TGO:Africa/Lome TH:THA:Asia/Bangkok TJ:TJK:Asia/Dushanbe
    TK:TKL:Pacific/Fakaofo TL:TLS:Asia/Dili TM:TKM:Asia/Ashgabat TN:TUN:Africa/Tunis TO:TON:Pacific/Tongatapu
    TR:TUR:Europe/Istanbul TT:TTO:America/Port_of_Spain TV:TUV:Pacific/Funafuti TW:TWN:Asia/Taipei
    TZ:TZA:Africa/Dar_es_Salaam UA:UKR:Europe/Kyiv UG:UGA:Africa/Kampala UM:UMI:Pacific/Midway US:USA:-
    UY:URY:America/Montevideo UZ:UZB:Asia/Tashkent VA:VAT:Europe/Vatican VC:VCT:America/St_Vincent
    VE:VEN:America/Caracas VG:VGB:America/Tortola VI:VIR:America/St_Thomas VN:VNM:Asia/Ho_Chi_Minh
    VU:VUT:Pacific/Efate WF:WLF:Pacific/Wallis WS:WSM:Pacific/Apia YE:YEM:Asia/Aden YT:MYT:Indian/Mayotte
    ZA:ZAF:Africa/Johannesburg ZM:ZMB:Africa/Lusaka ZW:ZWE:Africa/Harare
"""

# State / province → zone for the countries that span several zones. A state that is
# itself split (Texas, Florida, Indiana, Kentucky…) gets the zone of most of its
# population; the qualified city entries further down correct the known exceptions.
_REGIONS = {
    "US": (
        ("AL", "Alabama", "America/Chicago"),
        ("AK", "Alaska", "America/Anchorage"),
        ("AZ", "Arizona", "America/Phoenix"),
        ("AR", "Arkansas", "America/Chicago"),
        ("CA", "California", "America/Los_Angeles"),
        ("CO", "Colorado", "America/Denver"),
        ("CT", "Connecticut", "America/New_York"),
        ("DE", "Delaware", "America/New_York"),
        ("DC", "District of Columbia", "America/New_York"),
        ("FL", "Florida", "America/New_York"),
        ("GA", "Georgia", "America/New_York"),
        ("HI", "Hawaii", "Pacific/Honolulu"),
        ("ID", "Idaho", "America/Boise"),
        ("IL", "Illinois", "America/Chicago"),
        ("IN", "Indiana", "America/Indiana/Indianapolis"),
        ("IA", "Iowa", "America/Chicago"),
        ("KS", "Kansas", "America/Chicago"),
        ("KY", "Kentucky", "America/New_York"),
        ("LA", "Louisiana", "America/Chicago"),
        ("ME", "Maine", "America/New_York"),
        ("MD", "Maryland", "America/New_York"),
        ("MA", "Massachusetts", "America/New_York"),
        ("MI", "Michigan", "America/Detroit"),
        ("MN", "Minnesota", "America/Chicago"),
        ("MS", "Mississippi", "America/Chicago"),
        ("MO", "Missouri", "America/Chicago"),
        ("MT", "Montana", "America/Denver"),
        ("NE", "Nebraska", "America/Chicago"),
        ("NV", "Nevada", "America/Los_Angeles"),
        ("NH", "New Hampshire", "America/New_York"),
        ("NJ", "New Jersey", "America/New_York"),
        ("NM", "New Mexico", "America/Denver"),
        ("NY", "New York", "America/New_York"),
        ("NC", "North Carolina", "America/New_York"),
        ("ND", "North Dakota", "America/Chicago"),
        ("OH", "Ohio", "America/New_York"),
        ("OK", "Oklahoma", "America/Chicago"),
        ("OR", "Oregon", "America/Los_Angeles"),
        ("PA", "Pennsylvania", "America/New_York"),
        ("RI", "Rhode Island", "America/New_York"),
        ("SC", "South Carolina", "America/New_York"),
        ("SD", "South Dakota", "America/Chicago"),
        ("TN", "Tennessee", "America/Chicago"),
        ("TX", "Texas", "America/Chicago"),
        ("UT", "Utah", "America/Denver"),
        ("VT", "Vermont", "America/New_York"),
        ("VA", "Virginia", "America/New_York"),
        ("WA", "Washington", "America/Los_Angeles"),
        ("WV", "West Virginia", "America/New_York"),
        ("WI", "Wisconsin", "America/Chicago"),
        ("WY", "Wyoming", "America/Denver"),
        # Territories also have country codes of their own; carriers use both forms.
        ("PR", "Puerto Rico", "America/Puerto_Rico"),
        ("VI", "Virgin Islands", "America/St_Thomas"),
        ("GU", "Guam", "Pacific/Guam"),
        ("AS", "American Samoa", "Pacific/Pago_Pago"),
        ("MP", "Northern Mariana Islands", "Pacific/Saipan"),
    ),
    "CA": (
        ("AB", "Alberta", "America/Edmonton"),
        ("BC", "British Columbia", "America/Vancouver"),
        ("MB", "Manitoba", "America/Winnipeg"),
        ("NB", "New Brunswick", "America/Moncton"),
        ("NL", "Newfoundland and Labrador", "America/St_Johns"),
        ("NS", "Nova Scotia", "America/Halifax"),
        ("NT", "Northwest Territories", "America/Edmonton"),
        ("NU", "Nunavut", "America/Iqaluit"),
        ("ON", "Ontario", "America/Toronto"),
        ("PE", "Prince Edward Island", "America/Halifax"),
        ("QC", "Quebec", "America/Toronto"),
        ("SK", "Saskatchewan", "America/Regina"),
        ("YT", "Yukon", "America/Whitehorse"),
    ),
    "AU": (
        ("ACT", "Australian Capital Territory", "Australia/Sydney"),
        ("NSW", "New South Wales", "Australia/Sydney"),
        ("NT", "Northern Territory", "Australia/Darwin"),
        ("QLD", "Queensland", "Australia/Brisbane"),
        ("SA", "South Australia", "Australia/Adelaide"),
        ("TAS", "Tasmania", "Australia/Hobart"),
        ("VIC", "Victoria", "Australia/Melbourne"),
        ("WA", "Western Australia", "Australia/Perth"),
    ),
}

# (country, region, cities, zone). With a region, the entry corrects that state's
# default for the cities named (El Paso is not on Texas time). Without one, it is used
# only when the partner gave no usable region, and for countries without a region
# table; ambiguous names (Portland, Springfield, Aurora…) are left out on purpose.
_CITY_GROUPS = (
    ("US", "TX", "el paso|hudspeth", "America/Denver"),
    ("US", "FL", "pensacola|panama city|fort walton beach|destin", "America/Chicago"),
    ("US", "TN", "knoxville|chattanooga|johnson city|kingsport|bristol", "America/New_York"),
    ("US", "KY", "bowling green|paducah|owensboro|hopkinsville", "America/Chicago"),
    ("US", "IN", "evansville|gary|hammond|merrillville", "America/Chicago"),
    ("US", "MI", "iron mountain|menominee|ironwood", "America/Menominee"),
    ("US", "ND", "dickinson|williston", "America/Denver"),
    ("US", "SD", "rapid city|spearfish", "America/Denver"),
    ("US", "NE", "scottsbluff|alliance|sidney", "America/Denver"),
    ("US", "KS", "goodland", "America/Denver"),
    ("US", "ID", "coeur d alene|lewiston|moscow|sandpoint", "America/Los_Angeles"),
    ("US", "OR", "ontario", "America/Boise"),
    # The Navajo Nation observes daylight saving time, the rest of Arizona does not.
    ("US", "AZ", "window rock|tuba city|chinle|kayenta", "America/Denver"),
    ("US", "AK", "juneau|ketchikan", "America/Juneau"),
    ("US", "AK", "sitka", "America/Sitka"),
    ("US", "AK", "nome", "America/Nome"),
    ("US", "AK", "adak", "America/Adak"),
    (
        "US",
        "",
        "new york|brooklyn|queens|bronx|staten island|boston|philadelphia|pittsburgh|baltimore|washington dc"
        "|atlanta|miami|orlando|tampa|jacksonville|charlotte|raleigh|richmond|newark|detroit|columbus|cleveland"
        "|cincinnati|indianapolis|louisville|buffalo|hartford",
        "America/New_York",
    ),
    (
        "US",
        "",
        "chicago|houston|dallas|fort worth|san antonio|austin|memphis|nashville|new orleans|minneapolis|saint paul"
        "|st paul|milwaukee|kansas city|st louis|saint louis|omaha|oklahoma city|tulsa|des moines",
        "America/Chicago",
    ),
    ("US", "", "denver|el paso|albuquerque|salt lake city|colorado springs|cheyenne|billings", "America/Denver"),
    ("US", "", "phoenix|tucson|mesa|scottsdale|tempe", "America/Phoenix"),
    ("US", "", "boise", "America/Boise"),
    (
        "US",
        "",
        "los angeles|san francisco|san diego|san jose|oakland|sacramento|seattle|tacoma|spokane|las vegas|reno",
        "America/Los_Angeles",
    ),
    ("US", "", "anchorage|fairbanks", "America/Anchorage"),
    ("US", "", "honolulu", "Pacific/Honolulu"),
    ("CA", "ON", "kenora|dryden", "America/Winnipeg"),
    ("CA", "BC", "dawson creek|fort st john", "America/Dawson_Creek"),
    ("CA", "BC", "cranbrook|golden|invermere", "America/Edmonton"),
    ("CA", "BC", "creston", "America/Creston"),
    ("CA", "NL", "happy valley goose bay|labrador city", "America/Goose_Bay"),
    ("CA", "SK", "lloydminster", "America/Edmonton"),
    ("CA", "", "toronto|ottawa|montreal|quebec|quebec city|mississauga|brampton|hamilton|laval", "America/Toronto"),
    ("CA", "", "vancouver|victoria|surrey|burnaby", "America/Vancouver"),
    ("CA", "", "calgary|edmonton", "America/Edmonton"),
    ("CA", "", "winnipeg", "America/Winnipeg"),
    ("CA", "", "regina|saskatoon", "America/Regina"),
    ("CA", "", "halifax|charlottetown", "America/Halifax"),
    ("CA", "", "moncton|fredericton|saint john", "America/Moncton"),
    ("CA", "", "st john s|st johns", "America/St_Johns"),
    ("AU", "NSW", "broken hill", "Australia/Broken_Hill"),
    ("AU", "", "sydney|canberra|newcastle|wollongong", "Australia/Sydney"),
    ("AU", "", "melbourne|geelong", "Australia/Melbourne"),
    ("AU", "", "brisbane|gold coast|cairns|townsville", "Australia/Brisbane"),
    ("AU", "", "adelaide", "Australia/Adelaide"),
    ("AU", "", "perth", "Australia/Perth"),
    ("AU", "", "darwin", "Australia/Darwin"),
    ("AU", "", "hobart", "Australia/Hobart"),
    ("BR", "", "manaus|porto velho|boa vista", "America/Manaus"),
    ("BR", "", "cuiaba", "America/Cuiaba"),
    ("BR", "", "campo grande", "America/Campo_Grande"),
    ("BR", "", "rio branco", "America/Rio_Branco"),
    ("BR", "", "belem", "America/Belem"),
    ("BR", "", "fortaleza", "America/Fortaleza"),
    ("BR", "", "recife", "America/Recife"),
    ("BR", "", "salvador", "America/Bahia"),
    ("MX", "", "tijuana|mexicali|ensenada", "America/Tijuana"),
    ("MX", "", "hermosillo", "America/Hermosillo"),
    ("MX", "", "cancun|chetumal|playa del carmen", "America/Cancun"),
    ("MX", "", "mazatlan|culiacan|la paz|tepic", "America/Mazatlan"),
    ("MX", "", "chihuahua", "America/Chihuahua"),
    ("MX", "", "ciudad juarez", "America/Ciudad_Juarez"),
    ("MX", "", "monterrey", "America/Monterrey"),
    ("MX", "", "merida", "America/Merida"),
    ("RU", "", "moscow|saint petersburg|st petersburg|kazan|nizhny novgorod", "Europe/Moscow"),
    ("RU", "", "kaliningrad", "Europe/Kaliningrad"),
    ("RU", "", "samara", "Europe/Samara"),
    ("RU", "", "yekaterinburg|chelyabinsk|perm|tyumen", "Asia/Yekaterinburg"),
    ("RU", "", "omsk", "Asia/Omsk"),
    ("RU", "", "novosibirsk", "Asia/Novosibirsk"),
    ("RU", "", "krasnoyarsk", "Asia/Krasnoyarsk"),
    ("RU", "", "irkutsk", "Asia/Irkutsk"),
    ("RU", "", "vladivostok|khabarovsk", "Asia/Vladivostok"),
    ("ID", "", "jakarta|bandung|surabaya|semarang|medan|yogyakarta|palembang", "Asia/Jakarta"),
    ("ID", "", "pontianak", "Asia/Pontianak"),
    ("ID", "", "denpasar|bali|makassar|balikpapan|manado", "Asia/Makassar"),
    ("ID", "", "jayapura|ambon", "Asia/Jayapura"),
)


def _load_countries():
    zones, alpha3 = {}, {}
    for item in _COUNTRIES.split():
        alpha2, code3, zone = item.split(":")
        alpha3[code3] = alpha2
        if zone != "-":
            zones[alpha2] = zone
    return zones, alpha3


def _normalize_name(value):
    """Fold accents, case and punctuation: ``"Coeur d'Alene"`` → ``"coeur d alene"``."""
    text = unicodedata.normalize("NFKD", str(value or ""))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


def _load_regions():
    regions = {}
    for country, rows in _REGIONS.items():
        table = regions[country] = {}
        for code, name, zone in rows:
            table[code] = zone
            table[_normalize_name(name).upper()] = zone
    # Common alternative spellings carriers print.
    regions["CA"]["QUEBEC"] = regions["CA"]["QC"]
    regions["CA"]["NEWFOUNDLAND"] = regions["CA"]["NL"]
    regions["US"]["WASHINGTON DC"] = regions["US"]["DC"]
    return regions


def _load_cities():
    cities = {}
    for country, region, names, zone in _CITY_GROUPS:
        for name in names.split("|"):
            cities[(country, region, name)] = zone
    return cities


#: alpha-2 country → IANA zone, for countries where one zone is a safe guess.
COUNTRY_ZONES, ALPHA3_TO_ALPHA2 = _load_countries()
#: alpha-2 country → {state/province code or upper-case name → IANA zone}.
REGION_ZONES = _load_regions()
#: (alpha-2 country, region code or "", normalised city) → IANA zone.
CITY_ZONES = _load_cities()
_ALPHA2 = frozenset(ALPHA3_TO_ALPHA2.values())
# Not ISO codes, but printed by carriers (UK) and used by EU bodies (EL).
_COUNTRY_ALIASES = {"UK": "GB", "EL": "GR"}

_ISO = re.compile(
    r"""^\s*(?P<date>\d{4}-\d{2}-\d{2})
    (?:[T\ ](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?
    \s*(?P<offset>[Zz]|[+-]\d{2}(?::?\d{2})?)?)?\s*$""",
    re.VERBOSE,
)


# English names carriers print that differ from the CLDR names (or read without Babel).
_NAME_ALIASES = {
    "united states of america": "US", "united states": "US", "usa": "US", "america": "US",
    "great britain": "GB", "united kingdom": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "northern ireland": "GB", "russian federation": "RU", "south korea": "KR", "korea republic of": "KR",
    "republic of korea": "KR", "holland": "NL", "the netherlands": "NL", "netherlands": "NL",
    "hong kong sar china": "HK", "hong kong": "HK", "china": "CN", "peoples republic of china": "CN",
    "germany": "DE", "deutschland": "DE", "france": "FR", "spain": "ES", "espana": "ES", "italy": "IT",
    "india": "IN", "japan": "JP", "canada": "CA", "australia": "AU", "mexico": "MX", "brazil": "BR",
    "uae": "AE", "united arab emirates": "AE", "viet nam": "VN", "vietnam": "VN", "turkiye": "TR",
    "turkey": "TR", "czech republic": "CZ", "czechia": "CZ", "ivory coast": "CI",
}


@lru_cache(maxsize=1)
def _country_names():
    """Normalised English country name → alpha-2, from CLDR when Babel is there (it is a
    dependency of Odoo), else the short alias table alone."""
    names = {}
    try:
        # Optional: the pure layer runs without it.
        from babel import Locale
    except ImportError:
        Locale = None
    if Locale is not None:
        for code, name in Locale("en").territories.items():
            if code in _ALPHA2:
                names[_normalize_name(name)] = code
    names.update(_NAME_ALIASES)
    return names


def country_code(value):
    """ISO 3166-1 alpha-2 code of a country given as alpha-2, alpha-3 or English name.

    :param str value: ``"DE"``, ``"deu"``, ``" USA "``, ``"Australia"``…
    :return: the alpha-2 code, or ``None`` for an empty or unknown value.
    :rtype: str | None
    """
    code = str(value or "").strip().upper()
    code = _COUNTRY_ALIASES.get(code, code)
    if code in _ALPHA2:
        return code
    if code in ALPHA3_TO_ALPHA2:
        return ALPHA3_TO_ALPHA2[code]
    if len(code) > 3:
        return _country_names().get(_normalize_name(value))
    return None


def region_country(region, *countries):
    """The first of ``countries`` (any spelling) in which ``region`` is a known state or
    province: a scan printed as ``"BROOKLYN, NY"`` without a country belongs to the
    shipment's origin or destination country when that country has such a state.

    :return: an alpha-2 code, or ``None``.
    """
    if not region:
        return None
    for country in countries:
        alpha2 = country_code(country)
        if alpha2 and _region_key(region, alpha2) in REGION_ZONES.get(alpha2, {}):
            return alpha2
    return None


_POSTCODE = re.compile(r"^(?:\d{4,6}(?:-\d{4})?|[A-Z]\d[A-Z]\d[A-Z]\d)$")


def parse_location_text(text):
    """``(country, region, city)`` of a location written as one line of text.

    Partners print destinations as ``"Sydney, Australia"``, ``"BROOKLYN HGTS NY US"``,
    ``"Austin, TX 78721"``: the country is the last part that names one (code or name),
    the region the part before it when the country has such a state or province, and the
    city what remains. Postal codes are skipped.

    :return: a tuple of strings, empty where the text does not tell.
    :rtype: tuple[str, str, str]
    """
    words = [w for w in re.split(r"[,\s]+", str(text or "").strip()) if w]
    words = [w for w in words if not _POSTCODE.match(w.upper())]
    country = region = ""
    # The country is at the end, in one to four words ("United States of America").
    for size in (4, 3, 2, 1):
        if len(words) >= size:
            tail = " ".join(words[-size:])
            # A bare two-letter word at the end is a US state more often than a country
            # ("Austin TX"); it counts as a country only when it is not a state.
            if size == 1 and len(tail) == 2 and _region_key(tail, "US") in REGION_ZONES["US"] and tail.upper() != "US":
                continue
            found = country_code(tail)
            if found:
                country, words = found, words[:-size]
                break
    candidates = [country] if country else ["US", "CA", "AU"]
    for size in (2, 1):
        if len(words) > size - 1 and words:
            tail = " ".join(words[-size:])
            owner = region_country(tail, *candidates)
            if owner:
                country, region, words = owner, tail, words[:-size]
                break
    return country, region, " ".join(words)


def location_zone(text, default=None):
    """IANA zone of a location written as one line of text (see :func:`parse_location_text`)."""
    country, region, city = parse_location_text(text)
    return zone_for(country, region, city, default=default)


def destination_zone(*, country=None, region=None, city=None, text=None, last_scans=(), default=None):
    """Zone of a shipment's destination, from whatever the partner filled in.

    The structured fields first; when they do not tell, the destination written as text;
    then the country of the latest scan that has one (with its state and city, parcels
    end their trip near their destination); then ``default`` (the connector's zone).

    :param last_scans: ``(country, region, city)`` of scans, latest first.
    :rtype: str | None
    """
    zone = zone_for(country, region, city)
    if zone:
        return zone
    zone = location_zone(text) if text else None
    if zone:
        return zone
    for scan_country, scan_region, scan_city in last_scans:
        if scan_country or scan_region:
            zone = zone_for(scan_country or region_country(scan_region, country, "US"), scan_region, scan_city)
            if zone:
                return zone
    return default


@lru_cache(maxsize=512)
def get_zone(name):
    """The :class:`~zoneinfo.ZoneInfo` of an IANA name, or ``None`` when the name is empty or
    unknown to the tz database (a mistyped connector setting must not stop parsing)."""
    if isinstance(name, ZoneInfo):
        return name
    if not name:
        return None
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _region_key(region, country):
    key = _normalize_name(region).upper()
    # ISO 3166-2 subdivision codes ("US-CO") carry the country as a prefix.
    prefix = f"{country} "
    return key[len(prefix) :] if key.startswith(prefix) else key


def zone_for(country=None, region=None, city=None, default=None):
    """IANA zone of a location, from the country, state/province and city a carrier gave.

    Single-zone countries resolve from the country alone. For the United States, Canada
    and Australia the state or province decides, corrected by a short list of cities that
    sit in another zone than their state; without a usable state a list of big cities is
    tried. The country alone is not enough for them (nor for Russia and Indonesia): a
    wrong guess of several hours is worse than the caller's own fallback.

    :param str country: ISO alpha-2 or alpha-3 code.
    :param str region: state or province code (``"CO"``, ``"US-CO"``) or name.
    :param str city: city name, in any case, with or without accents.
    :param str default: returned when the location does not tell.
    :return: an IANA zone name, or ``default``.
    :rtype: str | None
    """
    alpha2 = country_code(country)
    if not alpha2:
        return default
    city_key = _normalize_name(city)
    region_key = _region_key(region, alpha2) if region else ""
    if city_key and region_key and (alpha2, region_key, city_key) in CITY_ZONES:
        return CITY_ZONES[(alpha2, region_key, city_key)]
    region_zone = REGION_ZONES.get(alpha2, {}).get(region_key)
    if region_zone:
        return region_zone
    if city_key and (alpha2, "", city_key) in CITY_ZONES:
        return CITY_ZONES[(alpha2, "", city_key)]
    return COUNTRY_ZONES.get(alpha2, default)


def localize(naive_dt, zone):
    """Attach a zone to a wall-clock time, honouring that day's daylight saving time.

    Ambiguous times (the repeated hour in autumn) take the first occurrence and times in
    the spring gap are read with the offset in force before it, as :mod:`zoneinfo` does
    with ``fold=0``; converting the result to UTC normalises them.

    :param datetime naive_dt: the wall-clock time; an aware value is returned unchanged.
    :param zone: IANA name or :class:`~zoneinfo.ZoneInfo`.
    :rtype: datetime
    :raises ValueError: when the zone is unknown.
    """
    if naive_dt.tzinfo is not None and naive_dt.utcoffset() is not None:
        return naive_dt
    tz = get_zone(zone)
    if tz is None:
        raise ValueError(f"unknown time zone {zone!r}")
    return naive_dt.replace(tzinfo=tz)


def parse_datetime(value):
    """Parse an ISO 8601 date or date-time as partners write it.

    Accepts ``YYYY-MM-DD``, a ``T`` or a space before the time, optional seconds and
    fractions, and ``Z``, ``±HH``, ``±HHMM`` or ``±HH:MM`` offsets. It does not rely on
    :meth:`datetime.fromisoformat`, which only learnt ``Z`` in Python 3.11.

    :param value: a string, :class:`datetime` or :class:`date`.
    :return: ``(value, has_time)`` — an aware datetime when an offset was given, a naive
        one otherwise; ``has_time`` is False for a plain date (then at midnight).
    :rtype: tuple[datetime, bool]
    :raises ValueError: when the value is not a date or date-time.
    """
    if isinstance(value, datetime):
        return value, True
    if isinstance(value, date):
        return datetime.combine(value, time()), False
    match = _ISO.match(str(value)) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"not an ISO 8601 date or date-time: {value!r}")
    day = date.fromisoformat(match["date"])
    if not 2 <= day.year <= 9998:
        # Year 1 and 9999 cannot be moved to another zone (OverflowError), and no
        # shipment moves then: partners write such dates as placeholders for "none".
        raise ValueError(f"date out of range: {value!r}")
    if match["hour"] is None:
        return datetime.combine(day, time()), False
    fraction = (match["fraction"] or "0")[:6].ljust(6, "0")
    parsed = datetime.combine(
        day,
        time(int(match["hour"]), int(match["minute"]), int(match["second"] or 0), int(fraction)),
    )
    offset = match["offset"]
    if offset:
        parsed = parsed.replace(tzinfo=_fixed_offset(offset))
    return parsed, True


def _fixed_offset(text):
    if text in ("Z", "z"):
        return timezone.utc
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
    if minutes >= 24 * 60:
        raise ValueError(f"UTC offset out of range: {text!r}")
    return timezone(timedelta(minutes=-minutes if text[0] == "-" else minutes))


def parse_partner_time(value, *, country=None, region=None, city=None, default_zone=None):
    """Turn a partner time into an aware datetime, resolving a missing offset.

    A value with an offset (or ``Z``) is taken as given. A value without one is the
    local time of the event location: the zone comes from :func:`zone_for`, else
    ``default_zone`` (normally the destination's), else UTC is assumed and flagged.

    :param value: ISO 8601 string or datetime.
    :return: ``(aware_dt, assumed_utc)``; the datetime keeps its local offset so that the
        partner's wall-clock time can still be shown.
    :rtype: tuple[datetime, bool]
    :raises ValueError: when the value cannot be parsed.
    """
    parsed, _has_time = parse_datetime(value)
    if parsed.tzinfo is not None and parsed.utcoffset() is not None:
        return parsed, False
    zone = get_zone(zone_for(country, region, city)) or get_zone(default_zone)
    if zone is None:
        return parsed.replace(tzinfo=timezone.utc), True
    return localize(parsed, zone), False


def parse_local_date(value):
    """The calendar date of a date-only value, including the midnight encodings.

    EasyPost and Shippo write a date as ``2026-07-16T00:00:00Z`` (or without the ``Z``):
    that is a date, not an instant, so the date is read as written and never converted
    to another zone (rule 11.5.3).

    :param value: ``YYYY-MM-DD``, a midnight date-time with or without offset, or a date.
    :rtype: date
    :raises ValueError: for a value carrying a time other than midnight.
    """
    parsed, has_time = parse_datetime(value)
    if has_time and parsed.time() != time():
        raise ValueError(f"not a date: {value!r} carries a time of day")
    return parsed.date()


def is_date_only(value):
    """True when :func:`parse_local_date` accepts the value (a date or a midnight encoding)."""
    try:
        parse_local_date(value)
    except ValueError:
        return False
    return True


def date_window(d, zone):
    """The UTC bounds of one local calendar day.

    :param date d: the day.
    :param zone: IANA name or :class:`~zoneinfo.ZoneInfo` of the place; ``None`` → UTC.
    :return: ``(start_utc, end_utc)``: local 00:00:00 and 23:59:59 of that day, in UTC.
    :rtype: tuple[datetime, datetime]
    """
    tz = get_zone(zone) or timezone.utc
    start = datetime.combine(d, time(0, 0, 0), tzinfo=tz)
    end = datetime.combine(d, time(23, 59, 59), tzinfo=tz)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def estimate_window(earliest, latest=None, zone=None):
    """Instant and window of a predicted time (an ETA, a promised date).

    Date-only bounds (see :func:`parse_local_date`) cover their whole local day in
    ``zone``; bounds with a time are instants, a zone-less one being read in ``zone``.
    The predicted instant is the end of the window, the last on-time moment.

    :param earliest: start of the prediction (or the single predicted value).
    :param latest: end of a range; defaults to ``earliest``.
    :param zone: IANA zone of the destination; ``None`` → UTC, flagged.
    :return: ``(occurred_at, window_start, window_end, assumed_utc)``; ``occurred_at``
        keeps the local offset, the window bounds are UTC.
    :rtype: tuple[datetime, datetime, datetime, bool]
    :raises ValueError: when a bound cannot be parsed.
    """
    tz = get_zone(zone)
    start, _end, _date_only, assumed_start = _bound(earliest, tz)
    _start, end, date_only, assumed_end = _bound(earliest if latest in (None, "") else latest, tz)
    if end < start:
        start, end = end, start
    # A date has no offset of its own: show it in the destination's; an instant keeps
    # the offset the partner gave.
    occurred_at = end.astimezone(tz or timezone.utc) if date_only else end
    return occurred_at, start.astimezone(timezone.utc), end.astimezone(timezone.utc), assumed_start or assumed_end


def _bound(value, tz):
    """``(start, end, date_only, assumed_utc)`` of one side of an estimate."""
    if is_date_only(value):
        start, end = date_window(parse_local_date(value), tz)
        return start, end, True, tz is None
    parsed, _has_time = parse_datetime(value)
    if parsed.tzinfo is not None and parsed.utcoffset() is not None:
        return parsed, parsed, False, False
    parsed = parsed.replace(tzinfo=tz or timezone.utc)
    return parsed, parsed, False, tz is None
