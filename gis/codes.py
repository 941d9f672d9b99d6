"""CRS codes and the county's time zone, which every layer shares, in a module light enough for any command to read.

`gis.crs` does the work with CRSs (and loads PROJ and GEOS); this only names them.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

#: The county's time zone: users' days and times, and the calendar days deadlines and dates are counted in.
COUNTY_TZ = ZoneInfo("Asia/Shanghai")

#: The county CRS when none is configured: CGCS2000 / 3-degree Gauss-Kruger CM 114E (the demo county's).
DEFAULT_COUNTY_SRID = 4546
#: The web's CRS (GeoJSON, Leaflet, phone GPS): longitude/latitude on WGS 84.
WEB_CRS = "EPSG:4326"
#: Web Mercator, the CRS of map tiles (XYZ scheme, metres): the map's tiles and each case's map centroid.
WEB_MERCATOR_SRID = 3857
