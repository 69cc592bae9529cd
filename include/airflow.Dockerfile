# The Airflow image of the compose stack: the official image plus this project's pinned lock.
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt /requirements.txt
RUN pip install --no-cache-dir -r /requirements.txt
