"""Edge agent for Raspberry Pi: wire protocol, MQTT publishing (paho-mqtt and stdlib only)."""
