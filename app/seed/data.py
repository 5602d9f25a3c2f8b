"""Static material for the demo company in Munich: districts, streets, names, products, subjects.

Coordinates are approximate centres of Munich's city districts (Stadtbezirke); streets are real
streets of each district; postcodes are ones that cover the district (all within 80331–81929).
"""

# fmt: off
from __future__ import annotations

from dataclasses import dataclass

CITY_CENTRE = (48.1374, 11.5755)  # Marienplatz

# Region code → name. Every site, engineer and warehouse belongs to one of them.
REGIONS: dict[str, str] = {
    "MUC-N": "München-Nord",
    "MUC-O": "München-Ost",
    "MUC-S": "München-Süd",
    "MUC-W": "München-West",
}


@dataclass(frozen=True)
class District:
    name: str
    region: str
    lat: float
    lon: float
    postcodes: tuple[str, ...]
    streets: tuple[str, ...]
    weight: float = 1.0  # share of business sites (denser in the centre and the commercial areas)


DISTRICTS: tuple[District, ...] = (

    District("Altstadt-Lehel", "MUC-O", 48.1374, 11.583, ("80331", "80333", "80538", "80539"),
             ("Kaufingerstraße", "Sendlinger Straße", "Maximilianstraße", "Tal", "Thierschstraße",
              "Sankt-Anna-Straße", "Residenzstraße"), 1.6),
    District("Ludwigsvorstadt-Isarvorstadt", "MUC-S", 48.1305, 11.564, ("80336", "80337", "80469"),
             ("Lindwurmstraße", "Goethestraße", "Fraunhoferstraße", "Müllerstraße", "Schillerstraße",
              "Reichenbachstraße", "Baaderstraße"), 1.4),
    District("Maxvorstadt", "MUC-N", 48.1505, 11.569, ("80333", "80335", "80798", "80799"),
             ("Augustenstraße", "Theresienstraße", "Schellingstraße", "Barer Straße", "Gabelsbergerstraße",
              "Karlstraße", "Dachauer Straße"), 1.4),
    District("Schwabing-West", "MUC-N", 48.164, 11.57, ("80796", "80797", "80801", "80803"),
             ("Hohenzollernstraße", "Elisabethstraße", "Agnesstraße", "Belgradstraße", "Kurfürstenstraße",
              "Clemensstraße"), 1.0),
    District("Au-Haidhausen", "MUC-O", 48.129, 11.593, ("81541", "81667", "81669", "81675"),
             ("Rosenheimer Straße", "Einsteinstraße", "Wörthstraße", "Preysingstraße", "Lilienstraße",
              "Innere Wiener Straße"), 1.1),
    District("Sendling", "MUC-S", 48.118, 11.543, ("81369", "81371", "81373"),
             ("Plinganserstraße", "Implerstraße", "Daiserstraße", "Alramstraße", "Valleystraße",
              "Kidlerstraße"), 0.9),
    District("Sendling-Westpark", "MUC-W", 48.118, 11.519, ("81373", "81377"),
             ("Garmischer Straße", "Albert-Roßhaupter-Straße", "Hansastraße", "Passauerstraße",
              "Westendstraße"), 0.9),
    District("Schwanthalerhöhe", "MUC-W", 48.135, 11.537, ("80339",),
             ("Landsberger Straße", "Ganghoferstraße", "Schwanthalerstraße", "Gollierstraße",
              "Ligsalzstraße", "Theresienhöhe"), 0.8),
    District("Neuhausen-Nymphenburg", "MUC-W", 48.156, 11.532, ("80634", "80636", "80637", "80638", "80639"),
             ("Nymphenburger Straße", "Leonrodstraße", "Donnersbergerstraße", "Landshuter Allee",
              "Romanstraße", "Wendl-Dietrich-Straße"), 1.1),
    District("Moosach", "MUC-N", 48.18, 11.51, ("80992", "80993", "80997"),
             ("Pelkovenstraße", "Feldmochinger Straße", "Baubergerstraße", "Hanauer Straße",
              "Dachauer Straße"), 0.8),
    District("Milbertshofen-Am Hart", "MUC-N", 48.188, 11.57, ("80807", "80809", "80937"),
             ("Schleißheimer Straße", "Knorrstraße", "Keferloherstraße", "Petuelring", "Lerchenauer Straße",
              "Moosacher Straße"), 1.1),
    District("Schwabing-Freimann", "MUC-N", 48.185, 11.605, ("80802", "80804", "80805", "80939"),
             ("Leopoldstraße", "Ungererstraße", "Domagkstraße", "Frankfurter Ring", "Freisinger Landstraße",
              "Lilienthalallee"), 1.2),
    District("Bogenhausen", "MUC-O", 48.155, 11.62, ("81675", "81677", "81679", "81925", "81927", "81929"),
             ("Prinzregentenstraße", "Richard-Strauss-Straße", "Arabellastraße", "Denninger Straße",
              "Effnerstraße", "Oberföhringer Straße"), 1.1),
    District("Berg am Laim", "MUC-O", 48.126, 11.633, ("81671", "81673"),
             ("Berg-am-Laim-Straße", "Baumkirchner Straße", "Kreillerstraße", "Schlüsselbergstraße",
              "Echardinger Straße"), 0.8),
    District("Trudering-Riem", "MUC-O", 48.122, 11.675, ("81825", "81827", "81829"),
             ("Wasserburger Landstraße", "Truderinger Straße", "Willy-Brandt-Allee", "Riemer Straße",
              "Bajuwarenstraße", "Am Messesee"), 0.9),
    District("Ramersdorf-Perlach", "MUC-S", 48.1, 11.635, ("81735", "81737", "81739"),
             ("Ottobrunner Straße", "Putzbrunner Straße", "Carl-Wery-Straße", "Thomas-Dehler-Straße",
              "Otto-Hahn-Ring", "Fritz-Erler-Straße"), 1.0),
    District("Obergiesing-Fasangarten", "MUC-S", 48.11, 11.592, ("81539", "81541", "81549"),
             ("Tegernseer Landstraße", "St.-Martin-Straße", "Chiemgaustraße", "Balanstraße",
              "Werinherstraße", "Aschauer Straße"), 0.9),
    District("Untergiesing-Harlaching", "MUC-S", 48.095, 11.576, ("81543", "81545", "81547"),
             ("Candidstraße", "Säbener Straße", "Harthauser Straße", "Grünwalder Straße",
              "Hans-Mielich-Straße", "Sachsenstraße"), 0.7),
    District("Thalkirchen-Obersendling-Forstenried-Fürstenried-Solln", "MUC-S", 48.076, 11.526,
             ("81379", "81475", "81476", "81477", "81479"),
             ("Boschetsrieder Straße", "Wolfratshauser Straße", "Drygalski-Allee", "Forstenrieder Allee",
              "Hofmannstraße", "Zielstattstraße"), 1.0),
    District("Hadern", "MUC-W", 48.115, 11.482, ("81375", "81377"),
             ("Würmtalstraße", "Heiglhofstraße", "Großhaderner Straße", "Guardinistraße",
              "Marchioninistraße"), 0.6),
    District("Pasing-Obermenzing", "MUC-W", 48.15, 11.462, ("81241", "81243", "81245", "81247"),
             ("Landsberger Straße", "Bodenseestraße", "Pippinger Straße", "Verdistraße", "Gleichmannstraße",
              "Planegger Straße"), 1.0),
    District("Aubing-Lochhausen-Langwied", "MUC-W", 48.16, 11.415, ("81243", "81249"),
             ("Limesstraße", "Ubostraße", "Lochhauser Straße", "Centa-Hafenbrädl-Straße", "Altostraße",
              "Freienfelsstraße"), 0.6),
    District("Allach-Untermenzing", "MUC-W", 48.192, 11.468, ("80997", "80999", "81247"),
             ("Eversbuschstraße", "Ludwigsfelder Straße", "Von-Kahr-Straße", "Vesaliusstraße",
              "Allacher Straße"), 0.6),
    District("Feldmoching-Hasenbergl", "MUC-N", 48.215, 11.54, ("80933", "80935", "80995"),
             ("Dülferstraße", "Stösserstraße", "Grohmannstraße", "Lerchenstraße", "Blodigstraße",
              "Feldmochinger Straße"), 0.6),
    District("Laim", "MUC-W", 48.138, 11.505, ("80686", "80687", "80689"),
             ("Fürstenrieder Straße", "Agnes-Bernauer-Straße", "Gotthardstraße", "Perhamerstraße",
              "Willibaldstraße"), 0.8),
)

FIRST_NAMES = (
    "Andreas", "Anna", "Barbara", "Benedikt", "Bernhard", "Christian", "Christina", "Daniela", "Dominik",
    "Elisabeth", "Florian", "Franziska", "Georg", "Hannah", "Johannes", "Josef", "Julia", "Katharina",
    "Klaus", "Korbinian", "Laura", "Leonhard", "Lukas", "Magdalena", "Maria", "Markus", "Martina",
    "Matthias", "Michael", "Monika", "Nicole", "Peter", "Petra", "Quirin", "Sabine", "Sebastian", "Sophie",
    "Stefan", "Susanne", "Theresa", "Thomas", "Tobias", "Ursula", "Veronika", "Wolfgang", "Xaver", "Alois",
    "Birgit", "Claudia", "Jürgen", "Mehmet", "Ayşe", "Emre", "Elif", "Aleksandar", "Ivana", "Giuseppe",
    "Luca", "Piotr", "Katarzyna", "Dimitrios", "Jana",
)
LAST_NAMES = (
    "Müller", "Schmid", "Huber", "Wagner", "Bauer", "Maier", "Mayer", "Meier", "Hofmann", "Fischer",
    "Weber", "Schneider", "Schmidt", "Gruber", "Brunner", "Steiner", "Moser", "Berger", "Fuchs", "Wimmer",
    "Lechner", "Hofer", "Eder", "Zimmermann", "Koch", "Kraus", "Wolf", "Hartmann", "Lang", "Weiß",
    "Pichler", "Obermeier", "Niedermeier", "Kaiser", "Winkler", "Reiter", "Graf", "Stadler", "Sedlmeier",
    "Baumgartner", "Kellner", "Haas", "Ziegler", "Ludwig", "Vogl", "Schuster", "Krämer", "Seidl", "Aigner",
    "Neumayr", "Attenberger", "Yılmaz", "Kaya", "Öztürk", "Nowak", "Kovačević", "Rossi", "Papadopoulos",
    "Ertl", "Hinterberger",
)
TITLES = ("", "", "", "", "", "", "", "Dr. ", "Dipl.-Ing. ")
MOBILE_PREFIXES = ("151", "152", "157", "160", "162", "170", "171", "172", "173", "175", "176", "179")
MAIL_HOSTS = ("gmx.de", "web.de", "t-online.de", "gmail.com")

# Segment → (share, account-name templates). {last}/{last2}/{district}/{street} get filled in.
SEGMENTS: dict[str, tuple[float, tuple[str, ...]]] = {
    "healthcare": (0.12, (
        "Praxisklinik {district}", "Seniorenresidenz {street}",
        "Medizinisches Versorgungszentrum {district}", "Zahnarztpraxis Dr. {last}",
        "Pflegeheim St. {first}",
    )),
    "retail": (0.16, (
        "{last} Lebensmittel GmbH", "Getränke {last} e.K.", "Modehaus {last}", "Bäckerei {last} GmbH",
        "Metzgerei {last}", "Autohaus {last} GmbH",
    )),
    "hospitality": (0.12, (
        "Hotel {street_short}", "Gasthof {last}", "Wirtshaus am {district_short}",
        "{last} Gastronomie GmbH", "Boardinghouse {district_short}",
    )),
    "manufacturing": (0.14, (
        "{last} Maschinenbau GmbH", "{last} Präzisionstechnik GmbH", "{last} & {last2} Metallbau KG",
        "{last} Kunststofftechnik GmbH", "{last} Feinmechanik GmbH & Co. KG",
    )),
    "office": (0.18, (
        "{last} Immobilien GmbH", "Bürohaus {street_short}", "{last} & {last2} Steuerberater",
        "{last} Consulting GmbH", "Kanzlei {last} {last2}", "{last} Software GmbH",
    )),
    "public": (0.07, (
        "Grundschule an der {street}", "Stadtteilbibliothek {district_short}",
        "Sportzentrum {district_short}", "Kita {first}s Kinderhaus",
    )),
    "data_center": (0.05, (
        "{last} Rechenzentrum GmbH", "{district_short} Colocation GmbH", "{last} IT-Services GmbH",
    )),
    "residential": (0.11, (
        "WEG {street}", "Hausverwaltung {last} GmbH", "Wohnanlage {street_short}",
        "Genossenschaft {district_short} eG",
    )),
    "logistics": (0.05, (
        "{last} Logistik GmbH & Co. KG", "{last} Spedition GmbH", "Kühlhaus {district_short} GmbH",
    )),
}

TIERS = (("platinum", 0.05), ("gold", 0.15), ("silver", 0.30), ("standard", 0.50))
# ARR range (EUR) per tier.
ARR = {"platinum": (120_000, 900_000), "gold": (40_000, 160_000), "silver": (10_000, 45_000),
       "standard": (1_000, 12_000)}

# Minutes of covered time per tier × priority: (first response, on-site arrival, resolution).
# Platinum counts round the clock (24x7 calendar), gold extended hours, the rest business hours.
SLA_TARGETS: dict[str, dict[str, tuple[int, int, int]]] = {
    "platinum": {"P1": (15, 240, 480), "P2": (30, 480, 1440), "P3": (60, 1440, 2880),
                 "P4": (120, 2880, 5760)},
    "gold": {"P1": (30, 240, 600), "P2": (60, 720, 1440), "P3": (120, 1440, 2880), "P4": (240, 2160, 4320)},
    "silver": {"P1": (60, 480, 960), "P2": (120, 960, 1920), "P3": (240, 1440, 2880),
               "P4": (480, 2880, 4800)},
    "standard": {"P1": (120, 960, 1440), "P2": (240, 1440, 2880), "P3": (480, 2400, 4800),
                 "P4": (960, 4800, 9600)},
}
# Contract tier → coverage calendar name.
STANDARD_CALENDAR = "Standard business hours"  # the name app/desk/sla/clock.py looks up for no-contract
EXTENDED_CALENDAR = "Extended hours"
ALWAYS_CALENDAR = "24x7"
TIER_CALENDAR = {"platinum": ALWAYS_CALENDAR, "gold": EXTENDED_CALENDAR, "silver": STANDARD_CALENDAR,
                 "standard": STANDARD_CALENDAR}
CALENDAR_HOURS: dict[str, dict[str, list[list[str]]]] = {
    STANDARD_CALENDAR: {str(d): [["08:00", "12:00"], ["13:00", "17:00"]] for d in range(5)},
    EXTENDED_CALENDAR: {**{str(d): [["07:00", "19:00"]] for d in range(5)}, "5": [["08:00", "14:00"]]},
    ALWAYS_CALENDAR: {},
}


@dataclass(frozen=True)
class Product:
    code: str
    name: str
    category: str
    manufacturer: str
    skill: str
    parts: tuple[str, ...]  # part keys (see PARTS)
    duration: int  # typical visit minutes
    serial_prefix: str


# Part key → (sku, name, unit cost EUR).
PARTS: dict[str, tuple[str, str, str]] = {
    "oil_filter": ("HVC-1001", "Verdichter-Ölfilter", "48.50"),
    "exp_valve": ("HVC-1002", "Elektronisches Expansionsventil", "412.00"),
    "hp_switch": ("HVC-1003", "Hochdruckschalter", "96.80"),
    "refrigerant": ("HVC-1004", "Kältemittel R513A, 10 kg", "389.00"),
    "cond_fan": ("HVC-1005", "Kondensatorlüfter EC-Motor", "655.00"),
    "filter_dryer": ("HVC-1006", "Filtertrockner 5/8\"", "74.20"),
    "ctrl_board": ("HVC-1007", "Reglerplatine", "820.00"),
    "circ_pump": ("HVC-1101", "Hocheffizienz-Umwälzpumpe", "289.00"),
    "four_way": ("HVC-1102", "Vierwegeventil", "231.00"),
    "ntc_sensor": ("HVC-1103", "Temperaturfühler NTC 10k", "18.90"),
    "inverter": ("HVC-1104", "Inverter-Platine", "695.00"),
    "condensate_pump": ("HVC-1105", "Kondensatpumpe", "89.00"),
    "bag_filter": ("HVC-1201", "Taschenfilter ePM1 60 % (Satz)", "142.00"),
    "v_belt": ("HVC-1202", "Keilriemen SPA 1250", "22.40"),
    "frost_stat": ("HVC-1203", "Frostschutzthermostat", "118.00"),
    "door_contact": ("LFT-2001", "Türkontakt Schachttür", "64.00"),
    "door_belt": ("LFT-2002", "Türantriebsriemen", "57.30"),
    "light_curtain": ("LFT-2003", "Lichtvorhang Kabinentür", "389.00"),
    "lift_vfd": ("LFT-2004", "Frequenzumrichter Aufzugsantrieb", "2140.00"),
    "emergency_call": ("LFT-2005", "Notrufmodul GSM", "310.00"),
    "guide_shoe": ("LFT-2006", "Führungsschuheinlagen (Satz)", "46.00"),
    "rope": ("LFT-2007", "Tragseil 8 mm, 100 m", "780.00"),
    "mccb": ("ELE-3001", "Leistungsschalter 630 A", "1290.00"),
    "nh_fuse": ("ELE-3002", "NH-Sicherung 250 A gG", "21.60"),
    "spd": ("ELE-3003", "Überspannungsschutz Typ 1+2", "245.00"),
    "ct": ("ELE-3004", "Stromwandler 1000/5 A", "88.00"),
    "prot_relay": ("ELE-3005", "Schutzrelais", "960.00"),
    "ups_battery": ("ELE-3101", "USV-Batteriemodul 9 Ah (Satz)", "540.00"),
    "ups_fan": ("ELE-3102", "USV-Lüftereinheit", "132.00"),
    "ups_caps": ("ELE-3103", "DC-Kondensator-Kit", "410.00"),
    "gen_filter": ("ELE-3201", "Kraftstofffilter Notstromaggregat", "36.00"),
    "gen_battery": ("ELE-3202", "Starterbatterie 12 V 180 Ah", "265.00"),
    "sfp": ("NET-4001", "SFP+ Modul 10GBASE-SR", "79.00"),
    "psu": ("NET-4002", "Netzteil 1100 W", "420.00"),
    "fan_tray": ("NET-4003", "Lüftermodul", "160.00"),
    "patch_set": ("NET-4004", "Patchkabel Cat6a, 24 Stück", "54.00"),
    "rack_pdu": ("NET-4005", "Rack-PDU 16 A schaltbar", "610.00"),
    "rack_sensor": ("NET-4006", "Temperatur-/Feuchtesensor CMC", "98.00"),
    "seal": ("PMP-5001", "Gleitringdichtung", "168.00"),
    "bearings": ("PMP-5002", "Kugellagersatz", "74.00"),
    "impeller": ("PMP-5003", "Laufrad", "320.00"),
    "motor_cb": ("PMP-5004", "Motorschutzschalter", "92.00"),
    "press_switch": ("PMP-5005", "Druckschalter", "61.00"),
    "fuse_kit": ("GEN-9001", "Feinsicherungen, Sortiment", "12.50"),
    "gasket_kit": ("GEN-9002", "Dichtungssatz universal", "19.80"),
}

PRODUCTS: tuple[Product, ...] = (
    Product("CH-30XW", "AquaForce 30XW wassergekühlter Kaltwassersatz", "chiller", "Carrier", "HVAC",
            ("oil_filter", "exp_valve", "hp_switch", "refrigerant", "filter_dryer", "ctrl_board"), 150, "CR"),
    Product("CH-EWAD", "EWAD-TZ luftgekühlter Kaltwassersatz", "chiller", "Daikin", "HVAC",
            ("oil_filter", "exp_valve", "hp_switch", "cond_fan", "refrigerant", "ctrl_board"), 150, "DK"),
    Product("CH-RTAF", "Sintesis RTAF Kaltwassersatz", "chiller", "Trane", "HVAC",
            ("oil_filter", "hp_switch", "cond_fan", "filter_dryer", "refrigerant"), 150, "TR"),
    Product("HP-VC250", "Vitocal 250-A Luft/Wasser-Wärmepumpe", "heat_pump", "Viessmann", "HVAC",
            ("circ_pump", "four_way", "ntc_sensor", "inverter", "exp_valve"), 90, "VI"),
    Product("HP-AROT", "aroTHERM plus Wärmepumpe", "heat_pump", "Vaillant", "HVAC",
            ("circ_pump", "four_way", "ntc_sensor", "inverter", "condensate_pump"), 90, "VA"),
    Product("HP-WPL25", "WPL 25 AC Luft/Wasser-Wärmepumpe", "heat_pump", "Stiebel Eltron", "HVAC",
            ("circ_pump", "ntc_sensor", "inverter", "four_way"), 90, "SE"),
    Product("AHU-XCUBE", "X-CUBE Lüftungsgerät", "air_handling", "TROX", "HVAC",
            ("bag_filter", "v_belt", "frost_stat", "ntc_sensor", "cond_fan"), 75, "TX"),
    Product("LI-S3300", "Schindler 3300 Personenaufzug", "lift", "Schindler", "LIFT",
            ("door_contact", "door_belt", "light_curtain", "lift_vfd", "emergency_call", "guide_shoe"),
            120, "SCH"),
    Product("LI-KMS500", "MonoSpace 500 Personenaufzug", "lift", "KONE", "LIFT",
            ("door_contact", "door_belt", "light_curtain", "lift_vfd", "emergency_call", "rope"), 120, "KN"),
    Product("LI-EVO200", "evolution 200 Personenaufzug", "lift", "TK Elevator", "LIFT",
            ("door_contact", "light_curtain", "emergency_call", "guide_shoe", "rope"), 120, "TKE"),
    Product("LI-GEN2", "Gen2 Life Personenaufzug", "lift", "Otis", "LIFT",
            ("door_contact", "door_belt", "lift_vfd", "emergency_call", "guide_shoe"), 120, "OT"),
    Product("SG-S8", "SIVACON S8 Niederspannungs-Schaltanlage", "switchgear", "Siemens", "ELEC",
            ("mccb", "nh_fuse", "spd", "ct", "prot_relay"), 120, "SI"),
    Product("SG-MNS", "MNS Niederspannungs-Schaltanlage", "switchgear", "ABB", "ELEC",
            ("mccb", "nh_fuse", "spd", "prot_relay"), 120, "AB"),
    Product("SG-PRISMA", "Prisma P Verteilung", "switchgear", "Schneider Electric", "ELEC",
            ("mccb", "nh_fuse", "spd", "ct", "fuse_kit"), 90, "SX"),
    Product("UPS-GVS", "Galaxy VS USV 60 kVA", "ups", "APC", "ELEC",
            ("ups_battery", "ups_fan", "ups_caps", "fuse_kit"), 90, "AP"),
    Product("UPS-93PM", "93PM USV 100 kW", "ups", "Eaton", "ELEC",
            ("ups_battery", "ups_fan", "ups_caps"), 90, "ET"),
    Product("GEN-DS500", "DS 500 Notstromaggregat", "generator", "Rolls-Royce MTU", "ELEC",
            ("gen_filter", "gen_battery", "fuse_kit", "gasket_kit"), 150, "MTU"),
    Product("NET-VXIT", "VX IT Netzwerkschrank mit CMC III", "network_rack", "Rittal", "NET",
            ("rack_pdu", "rack_sensor", "patch_set", "fan_tray"), 60, "RI"),
    Product("NET-C9300", "Catalyst 9300 Switch-Stack", "network_switch", "Cisco", "NET",
            ("sfp", "psu", "fan_tray", "patch_set"), 60, "FOC"),
    Product("NET-AR6300", "Aruba CX 6300 Switch", "network_switch", "HPE", "NET",
            ("sfp", "psu", "fan_tray"), 60, "SG"),
    Product("PU-CR32", "CR 32 Hochdruck-Kreiselpumpe", "pump", "Grundfos", "PUMP",
            ("seal", "bearings", "impeller", "motor_cb", "press_switch"), 90, "GF"),
    Product("PU-STRATOS", "Stratos GIGA Heizungspumpe", "pump", "Wilo", "PUMP",
            ("seal", "bearings", "motor_cb", "gasket_kit"), 75, "WI"),
    Product("PU-ETANORM", "Etanorm Normpumpe", "pump", "KSB", "PUMP",
            ("seal", "bearings", "impeller", "gasket_kit"), 90, "KS"),
)

# Which products a segment typically owns (product code prefixes).
SEGMENT_PRODUCTS: dict[str, tuple[str, ...]] = {
    "healthcare": ("CH-", "HP-", "AHU-", "LI-", "SG-", "UPS-", "GEN-", "PU-"),
    "retail": ("CH-", "AHU-", "SG-", "NET-", "HP-"),
    "hospitality": ("HP-", "AHU-", "LI-", "PU-", "NET-"),
    "manufacturing": ("CH-", "SG-", "PU-", "AHU-", "UPS-", "NET-"),
    "office": ("LI-", "AHU-", "NET-", "SG-", "CH-", "UPS-"),
    "public": ("HP-", "AHU-", "LI-", "PU-", "SG-"),
    "data_center": ("UPS-", "CH-", "NET-", "GEN-", "SG-"),
    "residential": ("LI-", "HP-", "PU-"),
    "logistics": ("CH-", "SG-", "LI-", "NET-"),
}

# Fault subjects per product category: (subject, priority weights P1..P4).
FAULTS: dict[str, tuple[tuple[str, tuple[int, int, int, int]], ...]] = {
    "chiller": (("Kältemaschine meldet Hochdruckstörung", (3, 5, 2, 0)),
                ("Kaltwassertemperatur zu hoch", (2, 5, 3, 0)),
                ("Kältemaschine schaltet wiederholt ab", (2, 4, 3, 1)),
                ("Ölstand Verdichter niedrig", (0, 2, 5, 2))),
    "heat_pump": (("Wärmepumpe zeigt Störung, keine Heizleistung", (1, 5, 3, 1)),
                  ("Wärmepumpe ungewöhnlich laut", (0, 1, 5, 4)),
                  ("Warmwasser wird nicht warm", (0, 4, 5, 1))),
    "air_handling": (("Lüftungsanlage meldet Filteralarm", (0, 1, 4, 5)),
                     ("Zuluft zu kalt", (0, 3, 5, 2)),
                     ("Lüftungsgerät ausgefallen", (1, 5, 3, 1))),
    "lift": (("Aufzug steht, Person eingeschlossen", (10, 0, 0, 0)),
             ("Aufzug außer Betrieb", (3, 6, 1, 0)),
             ("Aufzugstür schließt nicht richtig", (0, 4, 5, 1)),
             ("Aufzug hält nicht bündig", (0, 2, 6, 2)),
             ("Notruf im Aufzug ohne Funktion", (4, 5, 1, 0))),
    "switchgear": (("Leistungsschalter ausgelöst, Bereich ohne Strom", (5, 4, 1, 0)),
                   ("Auffälliger Befund Thermografie Sammelschiene", (0, 3, 5, 2)),
                   ("Isolationsfehler gemeldet", (1, 5, 3, 1))),
    "ups": (("USV meldet Batteriefehler", (2, 5, 3, 0)),
            ("USV läuft im Bypass", (3, 5, 2, 0)),
            ("USV Lüfteralarm", (0, 3, 5, 2))),
    "generator": (("Notstromaggregat startet beim Probelauf nicht", (2, 6, 2, 0)),
                  ("Kraftstoffleck am Aggregat", (2, 5, 3, 0))),
    "network_rack": (("Rack-Temperaturalarm", (2, 5, 3, 0)),
                     ("PDU meldet Überlast", (1, 4, 4, 1))),
    "network_switch": (("Switch nicht erreichbar, Etage ohne Netz", (4, 5, 1, 0)),
                       ("Einzelne Ports ohne Link", (0, 2, 6, 2)),
                       ("Netzteil-Redundanz verloren", (0, 4, 5, 1))),
    "pump": (("Pumpe undicht", (1, 4, 4, 1)),
             ("Druckabfall im Netz", (2, 5, 3, 0)),
             ("Pumpe läuft nicht an", (3, 5, 2, 0))),
}
# Planned maintenance subjects per category (always P4, always a visit).
MAINTENANCE: dict[str, str] = {
    "chiller": "Wartung und F-Gase-Dichtheitsprüfung",
    "heat_pump": "Jährliche Wartung Wärmepumpe",
    "air_handling": "Hygieneinspektion und Filterwechsel",
    "lift": "Wartung gemäß BetrSichV",
    "switchgear": "DGUV V3 Prüfung Schaltanlage",
    "ups": "Jährliche Wartung USV",
    "generator": "Wartung und Lastprobelauf Notstromaggregat",
    "network_rack": "Inspektion Netzwerkschrank",
    "network_switch": "Firmware-Update und Inspektion",
    "pump": "Wartung Pumpenanlage",
}
INQUIRIES = (
    "Frage zur Rechnung", "Angebot für Erweiterung gewünscht", "Bitte um Wartungsbericht",
    "Ansprechpartner geändert", "Frage zur Vertragsverlängerung", "Zugangsdaten Serviceportal",
)
REPLIES = (
    "Vielen Dank für Ihre Meldung. Wir kümmern uns darum und melden uns in Kürze.",
    "Danke, wir haben die Störung aufgenommen und planen einen Techniker ein.",
    "Wir prüfen das und melden uns heute noch bei Ihnen.",
)
# Summaries of the call-back an agent logs on a phone case (its first response).
CALL_NOTES = (
    "Rückruf: Störung aufgenommen, Kunde informiert, dass ein Techniker eingeplant wird.",
    "Rückruf beim Kunden: Fehlerbild besprochen, Neustart hat nicht geholfen.",
    "Kunde zurückgerufen, Zugang zur Anlage und Ansprechpartner vor Ort geklärt.",
)
ACCESS_NOTES = (
    "", "", "", "Anmeldung beim Empfang, Ausweis erforderlich.", "Schlüssel beim Hausmeister.",
    "Zufahrt über Hof, Parkplatz für Servicefahrzeug vorhanden.", "Technikraum im 2. UG.",
    "Dachzugang nur mit Begleitung.", "Lieferanteneingang benutzen.",
)
WAREHOUSES = (
    ("Zentrallager Freimann", "MUC-N", "Lilienthalallee 29, 80939 München", 48.1965, 11.6150),
    ("Lager Aubing", "MUC-W", "Centa-Hafenbrädl-Straße 60, 81249 München", 48.1585, 11.4120),
    ("Lager Perlach", "MUC-S", "Carl-Wery-Straße 22, 81739 München", 48.0960, 11.6440),
)
SKILLS = ("HVAC", "LIFT", "ELEC", "NET", "PUMP")
