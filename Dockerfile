FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends libsqlite3-mod-spatialite libimage-exiftool-perl libpango-1.0-0 libpangoft2-1.0-0 fonts-wqy-zenhei \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY gis ./gis
COPY data ./data
COPY field_app ./field_app
# The Numba kernels are compiled into the image (otherwise the first check of every container compiles them).
RUN pip install --no-cache-dir ".[scale]" \
 && python -c "from gis.kernels import warm_up; warm_up()"
ENV SPATIALITE_LIBRARY_PATH=mod_spatialite
EXPOSE 8000
CMD ["redline", "serve", "--host", "0.0.0.0", "--port", "8000"]
