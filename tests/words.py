"""Words a Ukrainian page shows as they are, shared by the Ukrainian crawl and the browser's
Ukrainian check."""

# Words that are the same in Ukrainian: names of formats, standards and the product.
NAMES = {"mvq", "EXIF", "C2PA", "MGRS", "TOTP", "SHA", "JSON", "JSONL", "CSV", "Parquet",
         "UTC", "API", "URL", "MP4", "MOV", "MKV", "WebM", "JPEG", "PNG", "Ed25519", "PDQ",
         "GPS", "HTTP", "HTTPS", "ffmpeg", "Merkle", "Kyiv", "Europe", "HMAC", "RSS", "QR",
         "ISO", "GeoJSON", "OSD", "MIME", "Lavf", "PKCS", "WGS", "Standard", "Webhooks",
         "otpauth", "JavaScript"}  # fmt: skip
