"""Words the alert explanations share: the Japanese names of the sensor kinds."""

from __future__ import annotations

# Japanese names of the sensor kinds, for explanations.
KIND_JA = {
    "air_temperature": "気温",
    "soil_temperature": "地温",
    "relative_humidity": "湿度",
    "soil_moisture": "土壌水分",
    "leaf_wetness": "葉の濡れ",
    "rainfall": "雨量",
    "solar_radiation": "日射",
    "wind_speed": "風速",
    "wind_direction": "風向",
    "stem_radius": "幹の半径",
    "bin_weight": "重量",
    "item_count": "個数",
}
