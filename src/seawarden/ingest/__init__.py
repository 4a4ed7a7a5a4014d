"""Sources of vessel reports: NMEA files and live feeds, and CSV exports of decoded AIS."""
