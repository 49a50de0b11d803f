"""Live stock alerts: a service beside ingest that watches factory bins and stores alerts."""
