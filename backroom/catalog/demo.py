"""Demo seed for the catalog: a noodle-and-dumpling chain's menu, ingredients and recipes.

About 120 purchased items with the units they are really bought and counted in (cases of
6 × 2.5 kg, 750 ml bottles, trays of 30 eggs), 25 prepared items (broths, sauces, doughs,
fillings, chilli oil), 45 menu items with versioned recipes, modifiers, chain price lists in
CNY and HKD, and standard costs (prepared items costed from their recipes). Everything goes
through the catalog services as the system actor; the data is fixed, so the seed is
deterministic. `ctx.extra["catalog"]` hands the items to later seeds (stock, sales).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from backroom.catalog import costing, services
from backroom.catalog.batch import catalog_batch
from backroom.catalog.models import Item
from backroom.kernel.actors import SYSTEM

if TYPE_CHECKING:
    from backroom.config.demo import DemoContext

MENU_FROM = dt.date(2025, 6, 1)  # first recipe versions and price lists

ITEM_CLASSES = [
    # code, name, negative stock
    ("fresh", "生鲜 Fresh (meat, produce, dairy)", "forbid"),
    ("frozen", "冷冻 Frozen", "forbid"),
    ("dry", "干货调料 Dry goods and condiments", "warn"),
    ("beverage", "饮品 Bottled and canned drinks", "forbid"),
    ("prep", "半成品 Prepared in house", "allow"),
    ("menu", "菜品 Menu items", "allow"),
    ("supplies", "物料 Packaging and cleaning", "allow"),
    ("parts", "备件 Spare parts", "warn"),
]

CATEGORIES = [
    # code, name, parent
    ("meat", "肉类 Meat", None),
    ("beef", "牛肉 Beef", "meat"),
    ("pork", "猪肉 Pork", "meat"),
    ("poultry", "禽类 Poultry", "meat"),
    ("lamb", "羊肉 Lamb", "meat"),
    ("seafood", "水产 Seafood", None),
    ("dairy-eggs", "蛋奶豆制品 Eggs, dairy and tofu", None),
    ("produce", "蔬果 Produce", None),
    ("vegetables", "蔬菜 Vegetables", "produce"),
    ("herbs", "香料鲜草 Herbs and aromatics", "produce"),
    ("fruit", "水果 Fruit", "produce"),
    ("mushrooms", "菌菇 Mushrooms", "produce"),
    ("dry", "干货 Dry goods", None),
    ("flour-starch", "粮油米面 Flour, rice and noodles", "dry"),
    ("spices", "香辛料 Spices", "dry"),
    ("pickles", "腌菜 Pickles", "dry"),
    ("tea", "茶叶 Tea and drink bases", "dry"),
    ("condiments", "调味品 Sauces and condiments", None),
    ("oils", "食用油 Oils and fats", "condiments"),
    ("beverages", "酒水饮料 Beverages", None),
    ("packaging", "包材 Packaging", None),
    ("cleaning", "清洁用品 Cleaning", None),
    ("spare-parts", "设备备件 Spare parts", None),
    ("prep", "半成品 Prepared items", None),
    ("broths", "汤底 Broths", "prep"),
    ("sauces", "酱料 Sauces and oils", "prep"),
    ("doughs", "面团 Doughs", "prep"),
    ("fillings", "馅料 Fillings", "prep"),
    ("braises", "卤味 Braises", "prep"),
    ("menu", "菜单 Menu", None),
    ("noodles", "面食 Noodles", "menu"),
    ("dumplings", "饺子包点 Dumplings and buns", "menu"),
    ("sides", "小菜 Sides", "menu"),
    ("drinks", "饮品 Drinks", "menu"),
    ("desserts", "甜品 Desserts", "menu"),
]

# Purchased items: sku, name, base unit, category, class, storage, shelf life (days),
# standard cost per base unit (CNY), units: (code, base units per unit, name, roles) where
# roles are p = purchase (whole units, rounded up), c = count.
Unit = tuple[str, str, str, str]
Line = tuple[str, str, str, str]  # component sku, quantity, unit, loss %
Effect = tuple[str, str | None, str | None, str | None, str, str | None]
D, N, F, W = "PREP-NOODLE-DOUGH", "PREP-DUMPLING-DOUGH", "PREP-FILLING", "PREP-WONTON-FILLING"

# fmt: off
INGREDIENTS: list[tuple[str, str, str, str, str, str, int, str, list[Unit]]] = [
    ("BEEF-SHANK", "牛腱 Beef shank", "kg", "beef", "fresh", "chilled", 5, "78.00",
     [("case", "10", "case of 4 × 2.5 kg", "pc"), ("pack", "2.5", "vacuum pack 2.5 kg", "c")]),
    ("BEEF-BRISKET", "牛腩 Beef brisket", "kg", "beef", "fresh", "chilled", 5, "68.00",
     [("case", "10", "case of 4 × 2.5 kg", "pc"), ("pack", "2.5", "vacuum pack 2.5 kg", "c")]),
    ("BEEF-BONE", "牛骨 Beef bones", "kg", "beef", "frozen", "frozen", 180, "14.00",
     [("case", "20", "case of 20 kg", "pc")]),
    ("BEEF-MINCE", "牛肉馅 Minced beef", "kg", "beef", "fresh", "chilled", 3, "62.00",
     [("box", "5", "box of 5 × 1 kg", "pc"), ("pack", "1", "pack 1 kg", "c")]),
    ("PORK-MINCE", "猪肉馅 Minced pork 70/30", "kg", "pork", "fresh", "chilled", 3, "32.00",
     [("box", "10", "box of 10 × 1 kg", "pc"), ("pack", "1", "pack 1 kg", "c")]),
    ("PORK-BELLY", "五花肉 Pork belly", "kg", "pork", "fresh", "chilled", 5, "38.00",
     [("case", "10", "case of 10 kg", "pc")]),
    ("PORK-BONE", "猪筒骨 Pork leg bones", "kg", "pork", "frozen", "frozen", 180, "12.00",
     [("case", "20", "case of 20 kg", "pc")]),
    ("PORK-RIBS", "排骨 Pork ribs", "kg", "pork", "frozen", "frozen", 180, "45.00",
     [("case", "10", "case of 10 kg", "pc")]),
    ("PORK-SKIN", "猪皮 Pork skin", "kg", "pork", "frozen", "frozen", 180, "14.00",
     [("case", "10", "case of 10 kg", "pc")]),
    ("CHICKEN-WHOLE", "整鸡 Whole chicken", "kg", "poultry", "frozen", "frozen", 180, "18.00",
     [("case", "12", "case of 12 kg", "pc")]),
    ("CHICKEN-BONE", "鸡架 Chicken frames", "kg", "poultry", "frozen", "frozen", 180, "6.00",
     [("case", "20", "case of 20 kg", "pc")]),
    ("CHICKEN-THIGH", "去骨鸡腿 Boneless chicken thigh", "kg", "poultry", "frozen", "frozen", 180, "24.00",
     [("case", "10", "case of 5 × 2 kg", "pc"), ("pack", "2", "pack 2 kg", "c")]),
    ("LAMB-MINCE", "羊肉馅 Minced lamb", "kg", "lamb", "frozen", "frozen", 180, "72.00",
     [("box", "5", "box of 5 × 1 kg", "pc")]),
    ("SHRIMP-PEELED", "虾仁 Peeled shrimp 31/40", "kg", "seafood", "frozen", "frozen", 365, "95.00",
     [("case", "6", "case of 6 × 1 kg", "pc"), ("bag", "1", "bag 1 kg", "c")]),
    ("DRIED-SHRIMP", "虾皮 Dried baby shrimp", "kg", "seafood", "dry", "ambient", 180, "80.00",
     [("bag", "0.5", "bag 500 g", "pc")]),
    ("SEAWEED", "紫菜 Dried laver", "kg", "seafood", "dry", "ambient", 365, "120.00",
     [("bag", "0.1", "bag 100 g", "pc")]),
    ("KELP", "海带丝 Kelp shreds", "kg", "seafood", "fresh", "chilled", 10, "12.00",
     [("bag", "1", "bag 1 kg", "pc")]),
    ("EGG", "鸡蛋 Eggs", "each", "dairy-eggs", "fresh", "chilled", 21, "0.90",
     [("tray", "30", "tray of 30 eggs", "pc"), ("case", "360", "case of 12 trays", "p")]),
    ("TOFU-FIRM", "老豆腐 Firm tofu", "kg", "dairy-eggs", "fresh", "chilled", 3, "8.00",
     [("box", "5", "box 5 kg", "pc")]),
    ("TOFU-DRIED", "豆干 Pressed tofu", "kg", "dairy-eggs", "fresh", "chilled", 7, "16.00",
     [("bag", "1", "bag 1 kg", "pc")]),
    ("SOYBEAN", "黄豆 Soybeans", "kg", "dairy-eggs", "dry", "ambient", 365, "7.00",
     [("sack", "25", "sack 25 kg", "pc")]),
    ("MILK", "牛奶 Milk", "l", "dairy-eggs", "fresh", "chilled", 7, "12.00",
     [("carton", "1", "carton 1 l", "c"), ("case", "12", "case of 12 × 1 l", "p")]),
    ("COCONUT-MILK", "椰浆 Coconut milk", "l", "dairy-eggs", "dry", "ambient", 365, "18.00",
     [("can", "0.4", "can 400 ml", "c"), ("case", "9.6", "case of 24 × 400 ml", "p")]),
    ("NAPA-CABBAGE", "大白菜 Napa cabbage", "kg", "vegetables", "fresh", "chilled", 7, "2.40",
     [("crate", "15", "crate 15 kg", "pc")]),
    ("CHINESE-CHIVE", "韭菜 Chinese chives", "kg", "vegetables", "fresh", "chilled", 3, "8.00",
     [("bag", "5", "bag 5 kg", "pc")]),
    ("SPRING-ONION", "小葱 Spring onion", "kg", "herbs", "fresh", "chilled", 5, "9.00",
     [("bag", "2.5", "bag 2.5 kg", "pc")]),
    ("LEEK-SCALLION", "大葱 Welsh onion", "kg", "herbs", "fresh", "chilled", 10, "5.00",
     [("bundle", "5", "bundle 5 kg", "pc")]),
    ("CORIANDER", "香菜 Coriander", "kg", "herbs", "fresh", "chilled", 4, "16.00",
     [("bag", "1", "bag 1 kg", "pc")]),
    ("GINGER", "生姜 Ginger", "kg", "herbs", "fresh", "chilled", 21, "14.00",
     [("bag", "5", "bag 5 kg", "pc")]),
    ("GARLIC", "大蒜 Garlic", "kg", "herbs", "dry", "ambient", 60, "12.00",
     [("bag", "5", "bag 5 kg", "pc")]),
    ("ONION", "洋葱 Onion", "kg", "vegetables", "fresh", "ambient", 30, "3.50",
     [("net", "10", "net 10 kg", "pc")]),
    ("TOMATO", "番茄 Tomato", "kg", "vegetables", "fresh", "chilled", 7, "6.00",
     [("case", "10", "case 10 kg", "pc")]),
    ("CUCUMBER", "黄瓜 Cucumber", "kg", "vegetables", "fresh", "chilled", 7, "5.00",
     [("case", "10", "case 10 kg", "pc")]),
    ("CARROT", "胡萝卜 Carrot", "kg", "vegetables", "fresh", "chilled", 21, "3.20",
     [("bag", "10", "bag 10 kg", "pc")]),
    ("BOK-CHOY", "上海青 Bok choy", "kg", "vegetables", "fresh", "chilled", 4, "6.00",
     [("case", "5", "case 5 kg", "pc")]),
    ("SPINACH", "菠菜 Spinach", "kg", "vegetables", "fresh", "chilled", 3, "8.00",
     [("case", "5", "case 5 kg", "pc")]),
    ("BEAN-SPROUT", "豆芽 Bean sprouts", "kg", "vegetables", "fresh", "chilled", 2, "4.00",
     [("bag", "5", "bag 5 kg", "pc")]),
    ("CELERY", "芹菜 Celery", "kg", "vegetables", "fresh", "chilled", 7, "5.00",
     [("case", "5", "case 5 kg", "pc")]),
    ("BAMBOO-SHOOT", "笋 Bamboo shoots", "kg", "vegetables", "fresh", "chilled", 7, "14.00",
     [("bag", "2", "bag 2 kg", "pc")]),
    ("WATER-CHESTNUT", "马蹄 Water chestnut", "kg", "vegetables", "fresh", "chilled", 7, "10.00",
     [("bag", "2", "bag 2 kg", "pc")]),
    ("LOTUS-ROOT", "莲藕 Lotus root", "kg", "vegetables", "fresh", "chilled", 10, "8.00",
     [("case", "10", "case 10 kg", "pc")]),
    ("EGGPLANT", "茄子 Eggplant", "kg", "vegetables", "fresh", "chilled", 7, "5.00",
     [("case", "10", "case 10 kg", "pc")]),
    ("GREEN-PEPPER", "青椒 Green pepper", "kg", "vegetables", "fresh", "chilled", 7, "6.00",
     [("case", "5", "case 5 kg", "pc")]),
    ("CHILLI-FRESH", "小米辣 Bird's eye chilli", "kg", "herbs", "fresh", "chilled", 10, "24.00",
     [("bag", "1", "bag 1 kg", "pc")]),
    ("LEMON", "柠檬 Lemon", "kg", "fruit", "fresh", "chilled", 21, "10.00",
     [("case", "5", "case 5 kg", "pc")]),
    ("MANGO", "芒果 Mango", "kg", "fruit", "fresh", "chilled", 7, "14.00",
     [("case", "5", "case 5 kg", "pc")]),
    ("WOOD-EAR", "黑木耳(干) Dried wood ear", "kg", "mushrooms", "dry", "ambient", 365, "80.00",
     [("bag", "0.5", "bag 500 g", "pc")]),
    ("SHIITAKE-DRIED", "干香菇 Dried shiitake", "kg", "mushrooms", "dry", "ambient", 365, "90.00",
     [("bag", "0.5", "bag 500 g", "pc")]),
    ("SHIITAKE", "鲜香菇 Fresh shiitake", "kg", "mushrooms", "fresh", "chilled", 5, "18.00",
     [("case", "5", "case 5 kg", "pc")]),
    ("ENOKI", "金针菇 Enoki", "kg", "mushrooms", "fresh", "chilled", 7, "10.00",
     [("pack", "0.2", "pack 200 g", "c"), ("case", "5", "case of 25 × 200 g", "p")]),
    ("CHILLI-DRIED", "干辣椒 Dried chilli", "kg", "spices", "dry", "ambient", 365, "45.00",
     [("bag", "1", "bag 1 kg", "pc")]),
    ("CHILLI-FLAKES", "辣椒面 Chilli flakes", "kg", "spices", "dry", "ambient", 365, "40.00",
     [("bag", "1", "bag 1 kg", "pc")]),
    ("SICHUAN-PEPPER", "花椒 Sichuan pepper", "kg", "spices", "dry", "ambient", 365, "160.00",
     [("bag", "0.5", "bag 500 g", "pc")]),
    ("STAR-ANISE", "八角 Star anise", "kg", "spices", "dry", "ambient", 365, "70.00",
     [("bag", "0.5", "bag 500 g", "pc")]),
    ("CINNAMON", "桂皮 Cassia bark", "kg", "spices", "dry", "ambient", 365, "50.00",
     [("bag", "0.5", "bag 500 g", "pc")]),
    ("BAY-LEAF", "香叶 Bay leaves", "kg", "spices", "dry", "ambient", 365, "90.00",
     [("bag", "0.1", "bag 100 g", "pc")]),
    ("FENNEL-SEED", "小茴香 Fennel seed", "kg", "spices", "dry", "ambient", 365, "60.00",
     [("bag", "0.5", "bag 500 g", "pc")]),
    ("WHITE-PEPPER", "白胡椒粉 White pepper", "kg", "spices", "dry", "ambient", 365, "90.00",
     [("bag", "0.5", "bag 500 g", "pc")]),
    ("PRESERVED-VEG", "宜宾芽菜 Preserved mustard greens", "kg", "pickles", "dry", "ambient", 180, "22.00",
     [("bag", "0.5", "bag 500 g", "c"), ("case", "10", "case of 20 × 500 g", "p")]),
    ("PICKLED-MUSTARD", "榨菜 Zha cai", "kg", "pickles", "dry", "ambient", 365, "16.00",
     [("sachet", "0.08", "sachet 80 g", "c"), ("case", "8", "case of 100 × 80 g", "p")]),
    ("SAUERKRAUT", "酸菜 Pickled cabbage", "kg", "pickles", "dry", "ambient", 180, "8.00",
     [("bag", "0.5", "bag 500 g", "c"), ("case", "10", "case of 20 × 500 g", "p")]),
    ("SESAME-SEED", "白芝麻 White sesame", "kg", "spices", "dry", "ambient", 365, "28.00",
     [("bag", "1", "bag 1 kg", "pc")]),
    ("BLACK-SESAME", "黑芝麻 Black sesame", "kg", "spices", "dry", "ambient", 365, "36.00",
     [("bag", "1", "bag 1 kg", "pc")]),
    ("PEANUT", "花生米 Peanuts", "kg", "spices", "dry", "ambient", 180, "16.00",
     [("bag", "5", "bag 5 kg", "pc")]),
    ("FLOUR-HG", "高筋面粉 High-gluten flour", "kg", "flour-starch", "dry", "ambient", 365, "5.80",
     [("sack", "25", "sack 25 kg", "pc"), ("case", "15", "case of 6 × 2.5 kg", "p")]),
    ("FLOUR-AP", "中筋面粉 All-purpose flour", "kg", "flour-starch", "dry", "ambient", 365, "4.60",
     [("sack", "25", "sack 25 kg", "pc")]),
    ("RICE-NOODLE", "米粉(干) Dried rice noodles", "kg", "flour-starch", "dry", "ambient", 365, "9.00",
     [("pack", "0.5", "pack 500 g", "c"), ("case", "10", "case of 20 × 500 g", "p")]),
    ("VERMICELLI", "红薯粉丝 Sweet potato vermicelli", "kg", "flour-starch", "dry", "ambient", 365, "14.00",
     [("pack", "0.25", "pack 250 g", "c"), ("case", "10", "case of 40 × 250 g", "p")]),
    ("GLUTINOUS-FLOUR", "糯米粉 Glutinous rice flour", "kg", "flour-starch", "dry", "ambient", 365, "9.00",
     [("bag", "1", "bag 1 kg", "c"), ("case", "10", "case of 10 × 1 kg", "p")]),
    ("RICE", "大米 Rice", "kg", "flour-starch", "dry", "ambient", 365, "5.20",
     [("sack", "25", "sack 25 kg", "pc")]),
    ("STARCH", "生粉 Potato starch", "kg", "flour-starch", "dry", "ambient", 365, "7.00",
     [("bag", "1", "bag 1 kg", "c"), ("case", "20", "case of 20 × 1 kg", "p")]),
    ("SUGAR", "白砂糖 White sugar", "kg", "condiments", "dry", "ambient", 730, "6.50",
     [("bag", "1", "bag 1 kg", "c"), ("sack", "50", "sack 50 kg", "p")]),
    ("ROCK-SUGAR", "冰糖 Rock sugar", "kg", "condiments", "dry", "ambient", 730, "10.00",
     [("bag", "1", "bag 1 kg", "pc")]),
    ("BROWN-SUGAR", "红糖 Brown sugar", "kg", "condiments", "dry", "ambient", 730, "12.00",
     [("bag", "1", "bag 1 kg", "pc")]),
    ("SALT", "食盐 Salt", "kg", "condiments", "dry", "ambient", 1095, "2.50",
     [("bag", "0.4", "bag 400 g", "c"), ("case", "8", "case of 20 × 400 g", "p")]),
    ("MSG", "味精 MSG", "kg", "condiments", "dry", "ambient", 730, "12.00",
     [("bag", "1", "bag 1 kg", "pc")]),
    ("CHICKEN-POWDER", "鸡精 Chicken bouillon powder", "kg", "condiments", "dry", "ambient", 730, "30.00",
     [("bag", "1", "bag 1 kg", "pc")]),
    ("KANSUI", "碱水 Kansui (alkaline water)", "l", "flour-starch", "dry", "ambient", 365, "8.00",
     [("bottle", "0.5", "bottle 500 ml", "pc")]),
    ("YEAST", "酵母 Instant yeast", "kg", "flour-starch", "dry", "ambient", 365, "40.00",
     [("pack", "0.5", "pack 500 g", "pc")]),
    ("GELATIN", "吉利丁片 Gelatin sheets", "kg", "condiments", "dry", "ambient", 730, "160.00",
     [("box", "0.5", "box of 50 × 10 g", "pc")]),
    ("HONEY", "蜂蜜 Honey", "kg", "condiments", "dry", "ambient", 730, "40.00",
     [("jar", "1", "jar 1 kg", "pc")]),
    ("RED-BEAN", "红豆 Red beans", "kg", "dry", "dry", "ambient", 365, "12.00",
     [("bag", "5", "bag 5 kg", "pc")]),
    ("TEA-JASMINE", "茉莉花茶 Jasmine tea", "kg", "tea", "dry", "ambient", 365, "120.00",
     [("bag", "0.5", "bag 500 g", "pc")]),
    ("TEA-BLACK", "红茶 Black tea", "kg", "tea", "dry", "ambient", 365, "150.00",
     [("bag", "0.5", "bag 500 g", "pc")]),
    ("DRIED-PLUM", "乌梅 Smoked plums", "kg", "tea", "dry", "ambient", 365, "40.00",
     [("bag", "1", "bag 1 kg", "pc")]),
    ("HAWTHORN", "山楂干 Dried hawthorn", "kg", "tea", "dry", "ambient", 365, "30.00",
     [("bag", "1", "bag 1 kg", "pc")]),
    ("OSMANTHUS", "干桂花 Dried osmanthus", "kg", "tea", "dry", "ambient", 365, "200.00",
     [("bag", "0.1", "bag 100 g", "pc")]),
    ("SOY-LIGHT", "生抽 Light soy sauce", "l", "condiments", "dry", "ambient", 540, "9.00",
     [("bottle", "1.9", "bottle 1.9 l", "c"), ("case", "11.4", "case of 6 × 1.9 l", "p")]),
    ("SOY-DARK", "老抽 Dark soy sauce", "l", "condiments", "dry", "ambient", 540, "11.00",
     [("bottle", "1.9", "bottle 1.9 l", "c"), ("case", "11.4", "case of 6 × 1.9 l", "p")]),
    ("OYSTER-SAUCE", "蚝油 Oyster sauce", "kg", "condiments", "dry", "ambient", 540, "14.00",
     [("bottle", "0.7", "bottle 700 g", "c"), ("case", "8.4", "case of 12 × 700 g", "p")]),
    ("BLACK-VINEGAR", "镇江香醋 Zhenjiang vinegar", "l", "condiments", "dry", "ambient", 730, "8.00",
     [("bottle", "0.5", "bottle 500 ml", "c"), ("case", "6", "case of 12 × 500 ml", "p")]),
    ("RICE-VINEGAR", "白醋 Rice vinegar", "l", "condiments", "dry", "ambient", 730, "5.00",
     [("bottle", "0.5", "bottle 500 ml", "c"), ("case", "6", "case of 12 × 500 ml", "p")]),
    ("SHAOXING", "绍兴花雕 Shaoxing wine", "l", "condiments", "dry", "ambient", 730, "16.00",
     [("bottle", "0.75", "bottle 750 ml", "c"), ("case", "9", "case of 12 × 750 ml", "p")]),
    ("SESAME-PASTE", "芝麻酱 Sesame paste", "kg", "condiments", "dry", "ambient", 365, "32.00",
     [("jar", "0.5", "jar 500 g", "c"), ("case", "6", "case of 12 × 500 g", "p")]),
    ("SESAME-OIL", "芝麻油 Sesame oil", "l", "oils", "dry", "ambient", 365, "45.00",
     [("bottle", "0.4", "bottle 400 ml", "c"), ("case", "4.8", "case of 12 × 400 ml", "p")]),
    ("CHILLI-BEAN-PASTE", "郫县豆瓣 Pixian chilli bean paste", "kg", "condiments", "dry", "ambient", 365, "18.00",
     [("bag", "0.5", "bag 500 g", "c"), ("case", "10", "case of 20 × 500 g", "p")]),
    ("SWEET-BEAN-PASTE", "甜面酱 Sweet bean paste", "kg", "condiments", "dry", "ambient", 365, "12.00",
     [("bag", "0.5", "bag 500 g", "c"), ("case", "10", "case of 20 × 500 g", "p")]),
    ("BLACK-BEAN", "豆豉 Fermented black beans", "kg", "condiments", "dry", "ambient", 365, "24.00",
     [("bag", "0.5", "bag 500 g", "pc")]),
    ("VEG-OIL", "大豆油 Soybean oil", "l", "oils", "dry", "ambient", 365, "11.00",
     [("bottle", "5", "bottle 5 l", "c"), ("drum", "20", "drum 20 l", "p")]),
    ("LARD", "猪油 Lard", "kg", "oils", "fresh", "chilled", 90, "16.00",
     [("tub", "1", "tub 1 kg", "pc")]),
    ("BEEF-TRIPE", "牛百叶 Beef tripe", "kg", "beef", "frozen", "frozen", 180, "40.00",
     [("case", "10", "case of 10 kg", "pc")]),
    ("LAMB-SHOULDER", "羊肩肉 Lamb shoulder", "kg", "lamb", "frozen", "frozen", 180, "70.00",
     [("case", "10", "case of 10 kg", "pc")]),
    ("HAM", "金华火腿 Jinhua ham", "kg", "pork", "fresh", "chilled", 30, "60.00",
     [("pack", "0.5", "pack 500 g", "pc")]),
    ("FISH-BALL", "鱼丸 Fish balls", "kg", "seafood", "frozen", "frozen", 365, "28.00",
     [("bag", "1", "bag 1 kg", "c"), ("case", "10", "case of 10 × 1 kg", "p")]),
    ("SALTED-DUCK-EGG", "咸鸭蛋 Salted duck eggs", "each", "dairy-eggs", "fresh", "chilled", 30, "1.80",
     [("tray", "20", "tray of 20", "pc")]),
    ("QUAIL-EGG", "鹌鹑蛋 Quail eggs", "each", "dairy-eggs", "fresh", "chilled", 21, "0.35",
     [("box", "100", "box of 100", "pc")]),
    ("POTATO", "土豆 Potato", "kg", "vegetables", "fresh", "ambient", 30, "3.00",
     [("bag", "10", "bag 10 kg", "pc")]),
    ("DAIKON", "白萝卜 Daikon", "kg", "vegetables", "fresh", "chilled", 14, "2.80",
     [("bag", "10", "bag 10 kg", "pc")]),
    ("GARLIC-SPROUT", "蒜苔 Garlic scapes", "kg", "vegetables", "fresh", "chilled", 7, "10.00",
     [("bag", "2", "bag 2 kg", "pc")]),
    ("SHALLOT", "红葱头 Shallots", "kg", "herbs", "dry", "ambient", 60, "14.00",
     [("bag", "2", "bag 2 kg", "pc")]),
    ("CORN", "玉米粒 Sweetcorn", "kg", "vegetables", "frozen", "frozen", 365, "9.00",
     [("bag", "1", "bag 1 kg", "c"), ("case", "10", "case of 10 × 1 kg", "p")]),
    ("PEA", "青豆 Green peas", "kg", "vegetables", "frozen", "frozen", 365, "10.00",
     [("bag", "1", "bag 1 kg", "c"), ("case", "10", "case of 10 × 1 kg", "p")]),
    ("KING-OYSTER", "杏鲍菇 King oyster mushroom", "kg", "mushrooms", "fresh", "chilled", 7, "12.00",
     [("case", "5", "case 5 kg", "pc")]),
    ("TEA-OOLONG", "乌龙茶 Oolong tea", "kg", "tea", "dry", "ambient", 365, "180.00",
     [("bag", "0.5", "bag 500 g", "pc")]),
    ("CUMIN", "孜然 Cumin", "kg", "spices", "dry", "ambient", 365, "70.00",
     [("bag", "0.5", "bag 500 g", "pc")]),
    ("LAOGANMA", "老干妈 Chilli crisp", "kg", "condiments", "dry", "ambient", 365, "30.00",
     [("jar", "0.28", "jar 280 g", "c"), ("case", "6.72", "case of 24 × 280 g", "p")]),
    ("PEANUT-OIL", "花生油 Peanut oil", "l", "oils", "dry", "ambient", 365, "28.00",
     [("bottle", "5", "bottle 5 l", "c"), ("drum", "20", "drum 20 l", "p")]),
    ("BAKING-SODA", "小苏打 Baking soda", "kg", "flour-starch", "dry", "ambient", 730, "8.00",
     [("bag", "0.5", "bag 500 g", "pc")]),
    ("CONDENSED-MILK", "炼乳 Condensed milk", "kg", "dairy-eggs", "dry", "ambient", 365, "30.00",
     [("can", "0.35", "can 350 g", "c"), ("case", "16.8", "case of 48 × 350 g", "p")]),
    ("TAPIOCA-PEARL", "珍珠粉圆 Tapioca pearls", "kg", "flour-starch", "dry", "ambient", 365, "16.00",
     [("bag", "1", "bag 1 kg", "pc")]),
    ("SPRING-ROLL-SHEET", "春卷皮 Spring roll sheets", "each", "flour-starch", "frozen", "frozen", 180, "0.15",
     [("pack", "50", "pack of 50 sheets", "pc")]),
]

# Retail drinks sold as they are (no recipe): sku, name, cost each, price CNY, price HKD.
RETAIL = [
    ("COKE-CAN", "可口可乐 Coca-Cola 330 ml", "2.10", "6", "9"),
    ("SPRITE-CAN", "雪碧 Sprite 330 ml", "2.10", "6", "9"),
    ("TSINGTAO", "青岛啤酒 Tsingtao 500 ml", "3.50", "12", "18"),
    ("WATER-BOTTLE", "矿泉水 Mineral water 550 ml", "1.20", "3", "6"),
    ("HERBAL-TEA", "王老吉 Herbal tea 310 ml", "2.40", "6", "9"),
]

# Supplies and spare parts: sku, name, kind, base, category, class, cost, units.
SUPPLIES: list[tuple[str, str, str, str, str, str, str, list[Unit]]] = [
    ("BOWL-TAKEAWAY", "外卖汤碗 Takeaway soup bowl 1000 ml", "supplies", "each", "packaging", "supplies", "0.85",
     [("case", "300", "case of 300", "pc")]),
    ("LID-TAKEAWAY", "碗盖 Bowl lid", "supplies", "each", "packaging", "supplies", "0.25",
     [("case", "300", "case of 300", "pc")]),
    ("BOX-DUMPLING", "饺子盒 Dumpling box", "supplies", "each", "packaging", "supplies", "0.60",
     [("case", "400", "case of 400", "pc")]),
    ("BAG-TAKEAWAY", "外卖袋 Takeaway bag", "supplies", "each", "packaging", "supplies", "0.20",
     [("pack", "100", "pack of 100", "c"), ("case", "1000", "case of 10 packs", "p")]),
    ("CHOPSTICKS", "一次性筷子 Disposable chopsticks", "supplies", "each", "packaging", "supplies", "0.06",
     [("pack", "100", "pack of 100 pairs", "c"), ("case", "2000", "case of 20 packs", "p")]),
    ("SPOON", "汤勺 Disposable spoon", "supplies", "each", "packaging", "supplies", "0.05",
     [("case", "1000", "case of 1000", "pc")]),
    ("CUP-DRINK", "饮料杯 Drink cup 500 ml", "supplies", "each", "packaging", "supplies", "0.35",
     [("sleeve", "50", "sleeve of 50", "c"), ("case", "1000", "case of 20 sleeves", "p")]),
    ("NAPKIN", "纸巾 Napkin", "supplies", "each", "packaging", "supplies", "0.02",
     [("pack", "200", "pack of 200", "c"), ("case", "4000", "case of 20 packs", "p")]),
    ("GLOVES", "一次性手套 Disposable gloves", "supplies", "each", "cleaning", "supplies", "0.04",
     [("box", "100", "box of 100", "pc")]),
    ("CLING-FILM", "保鲜膜 Cling film roll", "supplies", "each", "cleaning", "supplies", "28.00",
     [("case", "6", "case of 6 rolls", "pc")]),
    ("DISH-DETERGENT", "洗洁精 Dish detergent", "supplies", "l", "cleaning", "supplies", "6.00",
     [("drum", "20", "drum 20 l", "pc")]),
    ("SANITIZER", "消毒液 Sanitiser", "supplies", "l", "cleaning", "supplies", "9.00",
     [("bottle", "5", "bottle 5 l", "pc")]),
    ("FRYER-FILTER", "炸炉滤纸 Fryer filter paper", "spare_part", "each", "spare-parts", "parts", "1.80",
     [("pack", "50", "pack of 50", "pc")]),
    ("BURNER-NOZZLE", "灶头喷嘴 Wok burner nozzle", "spare_part", "each", "spare-parts", "parts", "45.00",
     []),
    ("DOUGH-ROLLER-BELT", "压面机皮带 Noodle press belt", "spare_part", "each", "spare-parts", "parts", "120.00",
     []),
]

# Prepared items: sku, name, base unit, category, made ahead?, shelf life, yield, lines.
# Lines: (component sku, quantity, unit, loss %).
PREPARED: list[tuple[str, str, str, str, bool, int, str, list[Line]]] = [
    ("PREP-XLB-ASPIC", "皮冻 Pork skin aspic", "kg", "braises", True, 3, "3", [
        ("PORK-SKIN", "1.5", "kg", "20"), ("GINGER", "50", "g", "10"),
        ("LEEK-SCALLION", "100", "g", "15"), ("SHAOXING", "50", "ml", "0"),
    ]),
    ("PREP-BEEF-BROTH", "牛骨汤 Beef bone broth", "l", "broths", True, 2, "40", [
        ("BEEF-BONE", "20", "kg", "0"), ("GINGER", "400", "g", "10"),
        ("LEEK-SCALLION", "500", "g", "15"), ("STAR-ANISE", "40", "g", "0"),
        ("CINNAMON", "20", "g", "0"), ("BAY-LEAF", "10", "g", "0"),
        ("SICHUAN-PEPPER", "10", "g", "0"), ("SALT", "300", "g", "0"),
    ]),
    ("PREP-PORK-BROTH", "猪骨汤 Pork bone broth", "l", "broths", True, 2, "40", [
        ("PORK-BONE", "20", "kg", "0"), ("GINGER", "300", "g", "10"),
        ("LEEK-SCALLION", "500", "g", "15"), ("SHAOXING", "200", "ml", "0"),
        ("WHITE-PEPPER", "20", "g", "0"), ("SALT", "300", "g", "0"),
    ]),
    ("PREP-CHICKEN-BROTH", "鸡汤 Chicken broth", "l", "broths", True, 2, "30", [
        ("CHICKEN-BONE", "12", "kg", "0"), ("CHICKEN-WHOLE", "3", "kg", "0"),
        ("GINGER", "200", "g", "10"), ("LEEK-SCALLION", "300", "g", "15"),
        ("SHAOXING", "150", "ml", "0"), ("SALT", "200", "g", "0"),
    ]),
    ("PREP-CHILLI-OIL", "红油 Chilli oil", "l", "sauces", True, 30, "5", [
        ("VEG-OIL", "5", "l", "0"), ("CHILLI-FLAKES", "800", "g", "0"),
        ("SICHUAN-PEPPER", "100", "g", "0"), ("SESAME-SEED", "100", "g", "0"),
        ("STAR-ANISE", "20", "g", "0"), ("BAY-LEAF", "5", "g", "0"), ("GINGER", "100", "g", "10"),
        ("LEEK-SCALLION", "200", "g", "15"),
    ]),
    ("PREP-SCALLION-OIL", "葱油 Scallion oil", "l", "sauces", True, 14, "2.5", [
        ("VEG-OIL", "3", "l", "0"), ("LEEK-SCALLION", "1", "kg", "15"),
        ("SPRING-ONION", "500", "g", "10"),
    ]),
    ("PREP-SESAME-SAUCE", "麻酱汁 Sesame dressing", "kg", "sauces", True, 5, "2", [
        ("SESAME-PASTE", "1", "kg", "0"), ("SESAME-OIL", "200", "ml", "0"),
        ("SOY-LIGHT", "300", "ml", "0"), ("SUGAR", "100", "g", "0"),
        ("BLACK-VINEGAR", "200", "ml", "0"), ("SALT", "20", "g", "0"),
    ]),
    ("PREP-BRAISED-BEEF", "红烧牛肉 Braised beef", "kg", "braises", True, 3, "6.5", [
        ("BEEF-BRISKET", "10", "kg", "5"), ("CHILLI-BEAN-PASTE", "500", "g", "0"),
        ("SOY-LIGHT", "300", "ml", "0"), ("SOY-DARK", "100", "ml", "0"),
        ("ROCK-SUGAR", "150", "g", "0"), ("GINGER", "200", "g", "10"),
        ("GARLIC", "150", "g", "12"), ("STAR-ANISE", "20", "g", "0"), ("CINNAMON", "15", "g", "0"),
        ("CHILLI-DRIED", "50", "g", "0"), ("SHAOXING", "200", "ml", "0"),
        ("VEG-OIL", "200", "ml", "0"), ("PREP-BEEF-BROTH", "3", "l", "0"),
    ]),
    ("PREP-BRAISED-PORK", "红烧肉 Braised pork belly", "kg", "braises", True, 3, "7", [
        ("PORK-BELLY", "10", "kg", "8"), ("SOY-LIGHT", "300", "ml", "0"),
        ("SOY-DARK", "150", "ml", "0"), ("ROCK-SUGAR", "300", "g", "0"),
        ("SHAOXING", "300", "ml", "0"), ("GINGER", "150", "g", "10"),
        ("LEEK-SCALLION", "200", "g", "15"), ("STAR-ANISE", "15", "g", "0"),
    ]),
    ("PREP-MARINATED-EGG", "卤蛋 Marinated egg", "each", "braises", True, 3, "60", [
        ("EGG", "60", "each", "0"), ("SOY-LIGHT", "300", "ml", "0"),
        ("SOY-DARK", "100", "ml", "0"), ("ROCK-SUGAR", "100", "g", "0"),
        ("STAR-ANISE", "15", "g", "0"), ("CINNAMON", "10", "g", "0"),
        ("TEA-BLACK", "20", "g", "0"),
    ]),
    ("PREP-ZHAJIANG", "炸酱 Fried bean sauce", "kg", "sauces", True, 5, "3", [
        ("PORK-MINCE", "1.5", "kg", "0"), ("SWEET-BEAN-PASTE", "600", "g", "0"),
        ("SOY-DARK", "50", "ml", "0"), ("SUGAR", "50", "g", "0"), ("VEG-OIL", "200", "ml", "0"),
        ("LEEK-SCALLION", "200", "g", "15"),
    ]),
    ("PREP-SOY-MILK", "豆浆 Fresh soy milk", "l", "sauces", True, 1, "8", [
        ("SOYBEAN", "1", "kg", "0"), ("SUGAR", "400", "g", "0"),
    ]),
    ("PREP-PLUM-DRINK", "酸梅汤 Sour plum drink", "l", "sauces", True, 3, "10", [
        ("DRIED-PLUM", "300", "g", "0"), ("HAWTHORN", "200", "g", "0"),
        ("ROCK-SUGAR", "800", "g", "0"), ("OSMANTHUS", "10", "g", "0"),
    ]),
    ("PREP-TANGYUAN", "黑芝麻汤圆 Black sesame rice balls", "each", "fillings", True, 90, "100", [
        ("GLUTINOUS-FLOUR", "1.5", "kg", "0"), ("BLACK-SESAME", "400", "g", "0"),
        ("SUGAR", "300", "g", "0"), ("LARD", "200", "g", "0"),
    ]),
    ("PREP-NOODLE-DOUGH", "碱水面 Alkaline noodle dough", "kg", "doughs", False, 1, "1.4", [
        ("FLOUR-HG", "1", "kg", "0"), ("SALT", "10", "g", "0"), ("KANSUI", "10", "ml", "0"),
    ]),
    ("PREP-DUMPLING-DOUGH", "饺子面团 Dumpling dough", "kg", "doughs", False, 1, "1.5", [
        ("FLOUR-AP", "1", "kg", "0"), ("SALT", "5", "g", "0"),
    ]),
    ("PREP-FILLING-PORK-CABBAGE", "猪肉白菜馅 Pork and cabbage filling", "kg", "fillings", False, 1, "1", [
        ("PORK-MINCE", "500", "g", "0"), ("NAPA-CABBAGE", "500", "g", "10"),
        ("GINGER", "10", "g", "10"), ("LEEK-SCALLION", "30", "g", "15"),
        ("SOY-LIGHT", "20", "ml", "0"), ("SESAME-OIL", "10", "ml", "0"), ("SALT", "8", "g", "0"),
        ("WHITE-PEPPER", "2", "g", "0"),
    ]),
    ("PREP-FILLING-PORK-CHIVE", "猪肉韭菜馅 Pork and chive filling", "kg", "fillings", False, 1, "1", [
        ("PORK-MINCE", "550", "g", "0"), ("CHINESE-CHIVE", "400", "g", "10"),
        ("EGG", "2", "each", "0"), ("SOY-LIGHT", "20", "ml", "0"), ("SESAME-OIL", "10", "ml", "0"),
        ("SALT", "8", "g", "0"),
    ]),
    ("PREP-FILLING-SHRIMP-PORK", "三鲜馅 Shrimp, pork and chive filling", "kg", "fillings", False, 1, "1", [
        ("PORK-MINCE", "500", "g", "0"), ("SHRIMP-PEELED", "300", "g", "0"),
        ("CHINESE-CHIVE", "200", "g", "10"), ("SHAOXING", "10", "ml", "0"),
        ("SALT", "7", "g", "0"), ("SESAME-OIL", "10", "ml", "0"), ("WHITE-PEPPER", "2", "g", "0"),
    ]),
    ("PREP-FILLING-BEEF-ONION", "牛肉洋葱馅 Beef and onion filling", "kg", "fillings", False, 1, "1", [
        ("BEEF-MINCE", "600", "g", "0"), ("ONION", "400", "g", "10"),
        ("SOY-LIGHT", "20", "ml", "0"), ("OYSTER-SAUCE", "20", "g", "0"), ("SALT", "6", "g", "0"),
        ("SICHUAN-PEPPER", "2", "g", "0"),
    ]),
    ("PREP-FILLING-VEG-EGG", "素三鲜馅 Egg, chive and wood ear filling", "kg", "fillings", False, 1, "1", [
        ("EGG", "6", "each", "0"), ("CHINESE-CHIVE", "400", "g", "10"),
        ("WOOD-EAR", "30", "g", "0"), ("VERMICELLI", "80", "g", "0"), ("SALT", "6", "g", "0"),
        ("SESAME-OIL", "15", "ml", "0"),
    ]),
    ("PREP-WONTON-FILLING", "馄饨馅 Wonton filling", "kg", "fillings", False, 1, "1", [
        ("PORK-MINCE", "800", "g", "0"), ("LEEK-SCALLION", "50", "g", "15"),
        ("GINGER", "10", "g", "10"), ("SOY-LIGHT", "20", "ml", "0"), ("SALT", "8", "g", "0"),
        ("WHITE-PEPPER", "2", "g", "0"),
    ]),
    ("PREP-XLB-FILLING", "小笼馅 Soup dumpling filling", "kg", "fillings", False, 1, "1", [
        ("PORK-MINCE", "700", "g", "0"), ("PREP-XLB-ASPIC", "300", "g", "0"),
        ("SOY-LIGHT", "20", "ml", "0"), ("SUGAR", "15", "g", "0"), ("SALT", "6", "g", "0"),
        ("GINGER", "10", "g", "10"),
    ]),
    ("PREP-DANDAN-SAUCE", "担担酱 Dan dan sauce", "kg", "sauces", False, 1, "1", [
        ("SESAME-PASTE", "300", "g", "0"), ("PREP-CHILLI-OIL", "200", "ml", "0"),
        ("SOY-LIGHT", "150", "ml", "0"), ("BLACK-VINEGAR", "50", "ml", "0"),
        ("SUGAR", "50", "g", "0"), ("SICHUAN-PEPPER", "10", "g", "0"),
        ("PRESERVED-VEG", "200", "g", "0"), ("PEANUT", "100", "g", "0"),
    ]),
]

# Menu items: sku, name, category, price CNY, price HKD, lines (per portion).
MENU: list[tuple[str, str, str, str, str, list[Line]]] = [
    ("M-BEEF-NOODLE", "红烧牛肉面 Braised beef noodle soup", "noodles", "38", "48", [
        ("PREP-BEEF-BROTH", "450", "ml", "0"), (D, "180", "g", "0"),
        ("PREP-BRAISED-BEEF", "75", "g", "0"), ("BOK-CHOY", "40", "g", "10"),
        ("CORIANDER", "3", "g", "20"), ("SPRING-ONION", "5", "g", "10"),
        ("PREP-CHILLI-OIL", "10", "ml", "0"),
    ]),
    ("M-SPICY-BEEF-NOODLE", "麻辣牛肉面 Spicy beef noodle soup", "noodles", "40", "52", [
        ("PREP-BEEF-BROTH", "450", "ml", "0"), (D, "180", "g", "0"),
        ("PREP-BRAISED-BEEF", "75", "g", "0"), ("PREP-CHILLI-OIL", "25", "ml", "0"),
        ("SICHUAN-PEPPER", "1", "g", "0"), ("BOK-CHOY", "40", "g", "10"),
        ("CORIANDER", "3", "g", "20"),
    ]),
    ("M-PORK-NOODLE", "红烧肉面 Braised pork belly noodles", "noodles", "30", "39", [
        ("PREP-PORK-BROTH", "450", "ml", "0"), (D, "180", "g", "0"),
        ("PREP-BRAISED-PORK", "100", "g", "0"), ("BOK-CHOY", "40", "g", "10"),
        ("SPRING-ONION", "5", "g", "10"),
    ]),
    ("M-DANDAN", "担担面 Dan dan noodles", "noodles", "22", "29", [
        (D, "160", "g", "0"), ("PREP-DANDAN-SAUCE", "60", "g", "0"),
        ("PORK-MINCE", "30", "g", "0"), ("PREP-PORK-BROTH", "100", "ml", "0"),
        ("BOK-CHOY", "30", "g", "10"), ("SPRING-ONION", "5", "g", "10"),
    ]),
    ("M-ZHAJIANG", "老北京炸酱面 Beijing zhajiang noodles", "noodles", "24", "32", [
        (D, "180", "g", "0"), ("PREP-ZHAJIANG", "70", "g", "0"), ("CUCUMBER", "40", "g", "5"),
        ("CARROT", "20", "g", "10"), ("BEAN-SPROUT", "30", "g", "0"),
    ]),
    ("M-SCALLION-OIL", "葱油拌面 Scallion oil noodles", "noodles", "16", "22", [
        (D, "180", "g", "0"), ("PREP-SCALLION-OIL", "25", "ml", "0"),
        ("SOY-LIGHT", "15", "ml", "0"), ("SOY-DARK", "5", "ml", "0"), ("SUGAR", "5", "g", "0"),
    ]),
    ("M-HOT-SOUR", "酸辣粉 Hot and sour glass noodles", "noodles", "18", "24", [
        ("VERMICELLI", "100", "g", "0"), ("PREP-PORK-BROTH", "350", "ml", "0"),
        ("BLACK-VINEGAR", "20", "ml", "0"), ("PREP-CHILLI-OIL", "15", "ml", "0"),
        ("PEANUT", "15", "g", "0"), ("CORIANDER", "3", "g", "20"),
        ("SPRING-ONION", "5", "g", "10"), ("PRESERVED-VEG", "10", "g", "0"),
    ]),
    ("M-TOMATO-EGG", "番茄鸡蛋面 Tomato and egg noodles", "noodles", "20", "27", [
        (D, "180", "g", "0"), ("TOMATO", "150", "g", "8"), ("EGG", "2", "each", "0"),
        ("PREP-CHICKEN-BROTH", "350", "ml", "0"), ("SUGAR", "8", "g", "0"),
        ("SALT", "3", "g", "0"), ("VEG-OIL", "15", "ml", "0"), ("SPRING-ONION", "5", "g", "10"),
    ]),
    ("M-WONTON-NOODLE", "馄饨面 Wonton noodle soup", "noodles", "26", "35", [
        (D, "120", "g", "0"), (N, "60", "g", "0"), (W, "80", "g", "0"),
        ("PREP-CHICKEN-BROTH", "400", "ml", "0"), ("SEAWEED", "2", "g", "0"),
        ("DRIED-SHRIMP", "3", "g", "0"), ("SPRING-ONION", "5", "g", "10"),
    ]),
    ("M-CHICKEN-NOODLE", "鸡汤面 Chicken noodle soup", "noodles", "24", "32", [
        ("PREP-CHICKEN-BROTH", "450", "ml", "0"), (D, "180", "g", "0"),
        ("CHICKEN-THIGH", "80", "g", "10"), ("SHIITAKE", "30", "g", "0"),
        ("BOK-CHOY", "40", "g", "10"), ("SPRING-ONION", "5", "g", "10"),
    ]),
    ("M-MUSHROOM-NOODLE", "菌菇素面 Mushroom noodles", "noodles", "22", "29", [
        (D, "180", "g", "0"), ("SHIITAKE", "50", "g", "0"), ("ENOKI", "50", "g", "10"),
        ("WOOD-EAR", "5", "g", "0"), ("BOK-CHOY", "40", "g", "10"), ("SOY-LIGHT", "15", "ml", "0"),
        ("SESAME-OIL", "5", "ml", "0"),
    ]),
    ("M-SESAME-NOODLE", "麻酱凉面 Cold sesame noodles", "noodles", "18", "24", [
        (D, "180", "g", "0"), ("PREP-SESAME-SAUCE", "50", "g", "0"), ("CUCUMBER", "50", "g", "5"),
        ("CARROT", "20", "g", "10"), ("PREP-CHILLI-OIL", "10", "ml", "0"),
        ("PEANUT", "10", "g", "0"),
    ]),
    ("M-BEEF-RICE-NOODLE", "牛肉米粉 Beef rice noodle soup", "noodles", "36", "46", [
        ("RICE-NOODLE", "120", "g", "0"), ("PREP-BEEF-BROTH", "450", "ml", "0"),
        ("PREP-BRAISED-BEEF", "70", "g", "0"), ("BEAN-SPROUT", "30", "g", "0"),
        ("CORIANDER", "3", "g", "20"), ("CHILLI-FRESH", "3", "g", "0"),
    ]),
    ("M-SAUERKRAUT-NOODLE", "酸菜肉丝面 Pickled cabbage and pork noodles", "noodles", "24", "32", [
        (D, "180", "g", "0"), ("PREP-PORK-BROTH", "400", "ml", "0"),
        ("SAUERKRAUT", "60", "g", "0"), ("PORK-BELLY", "60", "g", "5"),
        ("CHILLI-DRIED", "2", "g", "0"),
    ]),
    ("M-DUMPLING-CABBAGE", "猪肉白菜水饺(12只) Pork and cabbage dumplings ×12", "dumplings", "26", "34", [
        (N, "150", "g", "0"), (f"{F}-PORK-CABBAGE", "216", "g", "0"),
        ("BLACK-VINEGAR", "15", "ml", "0"),
    ]),
    ("M-DUMPLING-CHIVE", "猪肉韭菜水饺(12只) Pork and chive dumplings ×12", "dumplings", "26", "34", [
        (N, "150", "g", "0"), (f"{F}-PORK-CHIVE", "216", "g", "0"),
        ("BLACK-VINEGAR", "15", "ml", "0"),
    ]),
    ("M-DUMPLING-SHRIMP", "三鲜水饺(12只) Shrimp, pork and chive dumplings ×12", "dumplings", "32", "42", [
        (N, "150", "g", "0"), (f"{F}-SHRIMP-PORK", "216", "g", "0"),
        ("BLACK-VINEGAR", "15", "ml", "0"),
    ]),
    ("M-DUMPLING-BEEF", "牛肉洋葱水饺(12只) Beef and onion dumplings ×12", "dumplings", "30", "39", [
        (N, "150", "g", "0"), (f"{F}-BEEF-ONION", "216", "g", "0"),
        ("BLACK-VINEGAR", "15", "ml", "0"),
    ]),
    ("M-DUMPLING-VEG", "素三鲜水饺(12只) Egg and chive dumplings ×12", "dumplings", "22", "29", [
        (N, "150", "g", "0"), (f"{F}-VEG-EGG", "216", "g", "0"),
        ("BLACK-VINEGAR", "15", "ml", "0"),
    ]),
    ("M-POTSTICKER", "锅贴(10只) Pan-fried potstickers ×10", "dumplings", "24", "32", [
        (N, "120", "g", "0"), (f"{F}-PORK-CABBAGE", "180", "g", "0"), ("VEG-OIL", "20", "ml", "0"),
        ("STARCH", "5", "g", "0"),
    ]),
    ("M-XIAOLONGBAO", "小笼包(8只) Soup dumplings ×8", "dumplings", "28", "36", [
        (N, "120", "g", "0"), ("PREP-XLB-FILLING", "160", "g", "0"), ("GINGER", "5", "g", "10"),
        ("BLACK-VINEGAR", "15", "ml", "0"),
    ]),
    ("M-SHENGJIAN", "生煎包(4只) Pan-fried pork buns ×4", "dumplings", "18", "24", [
        ("FLOUR-AP", "100", "g", "0"), ("YEAST", "2", "g", "0"), ("SUGAR", "5", "g", "0"),
        ("PREP-XLB-FILLING", "120", "g", "0"), ("SESAME-SEED", "3", "g", "0"),
        ("SPRING-ONION", "5", "g", "10"), ("VEG-OIL", "15", "ml", "0"),
    ]),
    ("M-CHILLI-WONTON", "红油抄手 Wontons in chilli oil", "dumplings", "24", "32", [
        (N, "80", "g", "0"), (W, "120", "g", "0"), ("PREP-CHILLI-OIL", "25", "ml", "0"),
        ("SOY-LIGHT", "10", "ml", "0"), ("BLACK-VINEGAR", "10", "ml", "0"),
        ("GARLIC", "5", "g", "12"), ("SUGAR", "3", "g", "0"), ("SPRING-ONION", "5", "g", "10"),
    ]),
    ("M-SHRIMP-WONTON-SOUP", "鲜虾馄饨汤 Shrimp wonton soup", "dumplings", "28", "36", [
        (N, "80", "g", "0"), (f"{F}-SHRIMP-PORK", "120", "g", "0"),
        ("PREP-CHICKEN-BROTH", "350", "ml", "0"), ("SEAWEED", "2", "g", "0"),
        ("DRIED-SHRIMP", "3", "g", "0"), ("CORIANDER", "3", "g", "20"),
    ]),
    ("M-PORK-BUN", "鲜肉包(2只) Steamed pork buns ×2", "dumplings", "10", "14", [
        ("FLOUR-AP", "120", "g", "0"), ("YEAST", "2", "g", "0"), ("SUGAR", "8", "g", "0"),
        (f"{F}-PORK-CABBAGE", "100", "g", "0"),
    ]),
    ("M-SPRING-ROLL", "春卷(4条) Spring rolls ×4", "dumplings", "16", "22", [
        ("SPRING-ROLL-SHEET", "4", "each", "0"), ("CARROT", "40", "g", "10"),
        ("NAPA-CABBAGE", "60", "g", "10"), ("PORK-MINCE", "40", "g", "0"),
        ("VERMICELLI", "10", "g", "0"), ("VEG-OIL", "40", "ml", "0"),
    ]),
    ("M-SMASHED-CUCUMBER", "拍黄瓜 Smashed cucumber", "sides", "12", "16", [
        ("CUCUMBER", "250", "g", "5"), ("GARLIC", "10", "g", "12"),
        ("BLACK-VINEGAR", "15", "ml", "0"), ("SOY-LIGHT", "10", "ml", "0"),
        ("SESAME-OIL", "5", "ml", "0"), ("PREP-CHILLI-OIL", "10", "ml", "0"),
        ("SUGAR", "3", "g", "0"), ("SALT", "2", "g", "0"),
    ]),
    ("M-WOOD-EAR-SALAD", "凉拌木耳 Wood ear salad", "sides", "14", "19", [
        ("WOOD-EAR", "25", "g", "0"), ("CHILLI-FRESH", "5", "g", "0"), ("GARLIC", "8", "g", "12"),
        ("CORIANDER", "5", "g", "20"), ("BLACK-VINEGAR", "15", "ml", "0"),
        ("SOY-LIGHT", "10", "ml", "0"), ("SESAME-OIL", "5", "ml", "0"),
    ]),
    ("M-MARINATED-EGG", "卤蛋 Marinated egg", "sides", "4", "6", [
        ("PREP-MARINATED-EGG", "1", "each", "0"),
    ]),
    ("M-BRAISED-TOFU", "卤豆干 Braised pressed tofu", "sides", "10", "14", [
        ("TOFU-DRIED", "150", "g", "0"), ("SOY-LIGHT", "15", "ml", "0"),
        ("SOY-DARK", "5", "ml", "0"), ("STAR-ANISE", "1", "g", "0"),
        ("ROCK-SUGAR", "10", "g", "0"),
    ]),
    ("M-MAPO-TOFU", "麻婆豆腐 Mapo tofu", "sides", "18", "24", [
        ("TOFU-FIRM", "300", "g", "3"), ("BEEF-MINCE", "40", "g", "0"),
        ("CHILLI-BEAN-PASTE", "25", "g", "0"), ("BLACK-BEAN", "5", "g", "0"),
        ("SICHUAN-PEPPER", "2", "g", "0"), ("STARCH", "8", "g", "0"), ("VEG-OIL", "20", "ml", "0"),
        ("SPRING-ONION", "5", "g", "10"),
    ]),
    ("M-GARLIC-GREENS", "蒜蓉青菜 Bok choy with garlic", "sides", "14", "19", [
        ("BOK-CHOY", "300", "g", "10"), ("GARLIC", "15", "g", "12"), ("VEG-OIL", "15", "ml", "0"),
        ("SALT", "3", "g", "0"), ("CHICKEN-POWDER", "2", "g", "0"),
    ]),
    ("M-SESAME-SPINACH", "麻酱菠菜 Spinach with sesame dressing", "sides", "14", "19", [
        ("SPINACH", "250", "g", "15"), ("PREP-SESAME-SAUCE", "30", "g", "0"),
    ]),
    ("M-KELP-SALAD", "凉拌海带丝 Kelp salad", "sides", "10", "14", [
        ("KELP", "200", "g", "0"), ("GARLIC", "8", "g", "12"), ("CHILLI-FRESH", "3", "g", "0"),
        ("RICE-VINEGAR", "15", "ml", "0"), ("SOY-LIGHT", "10", "ml", "0"),
        ("SESAME-OIL", "5", "ml", "0"), ("SUGAR", "5", "g", "0"),
    ]),
    ("M-SOY-MILK", "现磨豆浆 Fresh soy milk", "drinks", "6", "8", [
        ("PREP-SOY-MILK", "300", "ml", "0"), ("CUP-DRINK", "1", "each", "0"),
    ]),
    ("M-PLUM-DRINK", "酸梅汤 Sour plum drink", "drinks", "8", "11", [
        ("PREP-PLUM-DRINK", "400", "ml", "0"), ("CUP-DRINK", "1", "each", "0"),
    ]),
    ("M-LEMON-TEA", "柠檬红茶 Lemon black tea", "drinks", "12", "16", [
        ("TEA-BLACK", "5", "g", "0"), ("LEMON", "60", "g", "30"), ("SUGAR", "20", "g", "0"),
        ("HONEY", "10", "g", "0"), ("CUP-DRINK", "1", "each", "0"),
    ]),
    ("M-JASMINE-TEA", "茉莉花茶(壶) Pot of jasmine tea", "drinks", "8", "10", [
        ("TEA-JASMINE", "6", "g", "0"),
    ]),
    ("M-TANGYUAN", "黑芝麻汤圆(6只) Black sesame rice balls ×6", "desserts", "12", "16", [
        ("PREP-TANGYUAN", "6", "each", "0"), ("OSMANTHUS", "0.5", "g", "0"),
        ("ROCK-SUGAR", "10", "g", "0"),
    ]),
    ("M-MANGO-PUDDING", "芒果布丁 Mango pudding", "desserts", "14", "19", [
        ("MANGO", "120", "g", "35"), ("MILK", "100", "ml", "0"), ("COCONUT-MILK", "50", "ml", "0"),
        ("SUGAR", "20", "g", "0"), ("GELATIN", "4", "g", "0"),
    ]),
]

# Modifiers: code, name, effects (action, item, replacement, quantity, unit, factor).
MODIFIERS: list[tuple[str, str, list[Effect]]] = [
    ("large", "大份 Large (×1.5)", [
        ("scale", None, None, None, "", "1.5"),
    ]),
    ("small", "小份 Small (×0.7)", [
        ("scale", None, None, None, "", "0.7"),
    ]),
    ("extra-beef", "加牛肉 Extra beef (50 g)", [
        ("add", "PREP-BRAISED-BEEF", None, "50", "g", None),
    ]),
    ("extra-noodles", "加面 Extra noodles (100 g)", [
        ("add", "PREP-NOODLE-DOUGH", None, "100", "g", None),
    ]),
    ("add-egg", "加卤蛋 Add a marinated egg", [
        ("add", "PREP-MARINATED-EGG", None, "1", "each", None),
    ]),
    ("extra-spicy", "加辣 Extra chilli oil", [
        ("add", "PREP-CHILLI-OIL", None, "15", "ml", None),
    ]),
    ("no-coriander", "不要香菜 No coriander", [
        ("remove", "CORIANDER", None, None, "", None),
    ]),
    ("no-spring-onion", "不要葱 No spring onion", [
        ("remove", "SPRING-ONION", None, None, "", None),
    ]),
    ("rice-noodles", "换米粉 Rice noodles instead", [
        ("replace", "PREP-NOODLE-DOUGH", "RICE-NOODLE", "120", "g", None),
    ]),
    ("takeaway", "外卖打包 Takeaway packing", [
        ("add", "BOWL-TAKEAWAY", None, "1", "each", None),
        ("add", "LID-TAKEAWAY", None, "1", "each", None),
        ("add", "CHOPSTICKS", None, "1", "each", None),
        ("add", "BAG-TAKEAWAY", None, "1", "each", None),
    ]),
]
# fmt: on


def _units(units: list[Unit]) -> list[services.ItemUnitInput]:
    return [
        services.ItemUnitInput(
            code=code,
            name=name,
            factor=Decimal(factor),
            is_purchase="p" in roles,
            is_count="c" in roles,
            decimal_places=0,
            rounding="up" if "p" in roles else "down",
        )
        for code, factor, name, roles in units
    ]


def _item(
    sku: str, name: str, kind: str, base: str, category: str, item_class: str, **extra: Any
) -> Item:
    return services.create_item(
        services.ItemInput(
            sku=sku,
            name=name,
            kind=kind,
            base_unit=base,
            category=category,
            item_class=item_class,
            **extra,
        ),
        actor=SYSTEM,
    )


def _recipe(item: Item, lines: list[Line], yield_quantity: str = "1") -> None:
    services.publish_recipe(
        item,
        services.RecipeInput(
            effective_from=MENU_FROM,
            yield_quantity=Decimal(yield_quantity),
            lines=[
                services.RecipeLineInput(
                    component_sku=sku,
                    quantity=Decimal(quantity),
                    unit_code=unit,
                    loss_percent=Decimal(loss),
                )
                for sku, quantity, unit, loss in lines
            ],
        ),
        actor=SYSTEM,
    )


def seed(ctx: DemoContext) -> None:
    """The chain's catalog: classes, categories, items with units, recipes, modifiers, prices."""
    with catalog_batch():
        _seed(ctx)


def _seed(ctx: DemoContext) -> None:
    for code, name, policy in ITEM_CLASSES:
        services.create_item_class(
            services.ItemClassInput(code=code, name=name, negative_stock_policy=policy),
            actor=SYSTEM,
        )
    for code, name, parent in CATEGORIES:
        services.create_category(
            services.CategoryInput(code=code, name=name, parent_code=parent), actor=SYSTEM
        )
    items: dict[str, Item] = {}
    for sku, name, base, category, item_class, storage, shelf, cost, units in INGREDIENTS:
        items[sku] = _item(
            sku,
            name,
            "ingredient",
            base,
            category,
            item_class,
            storage=storage,
            shelf_life_days=shelf,
            standard_cost=Decimal(cost),
            units=_units(units),
        )
    for sku, name, cost, _cny, _hkd in RETAIL:
        case = (
            ("case", "12", "case of 12", "pc")
            if sku == "TSINGTAO"
            else ("case", "24", "case of 24", "pc")
        )
        items[sku] = _item(
            sku,
            name,
            "retail",
            "each",
            "beverages",
            "beverage",
            storage="ambient",
            shelf_life_days=365,
            standard_cost=Decimal(cost),
            units=_units([case]),
        )
    for sku, name, kind, base, category, item_class, cost, units in SUPPLIES:
        items[sku] = _item(
            sku,
            name,
            kind,
            base,
            category,
            item_class,
            standard_cost=Decimal(cost),
            units=_units(units),
        )
    for sku, name, base, category, made_ahead, shelf, yield_quantity, lines in PREPARED:
        items[sku] = _item(
            sku,
            name,
            "prepared",
            base,
            category,
            "prep",
            is_made_ahead=made_ahead,
            shelf_life_days=shelf,
            storage="chilled",
        )
        _recipe(items[sku], lines, yield_quantity)
        if made_ahead:  # stocked: its standard cost is its recipe's cost per base unit
            card = costing.cost_card(items[sku], None, on=MENU_FROM)
            items[sku] = services.update_item(
                items[sku], services.ItemChanges(standard_cost=card.total_cost), actor=SYSTEM
            )
    for code, name, effects in MODIFIERS:
        services.create_modifier(
            services.ModifierInput(
                code=code,
                name=name,
                effects=[
                    services.ModifierEffectInput(
                        action=action,
                        item_sku=item_sku,
                        replacement_sku=replacement,
                        quantity=Decimal(quantity) if quantity else None,
                        unit_code=unit,
                        factor=Decimal(factor) if factor else None,
                    )
                    for action, item_sku, replacement, quantity, unit, factor in effects
                ],
            ),
            actor=SYSTEM,
        )
    prices: list[tuple[str, str, str]] = []
    for sku, name, category, cny, hkd, lines in MENU:
        items[sku] = _item(sku, name, "menu", "each", category, "menu")
        _recipe(items[sku], lines)
        prices.append((sku, cny, hkd))
    prices.extend((sku, cny, hkd) for sku, _name, _cost, cny, hkd in RETAIL)
    for currency, column in (("CNY", 1), ("HKD", 2)):
        services.set_price_list(
            [services.PriceListLine(sku=row[0], price=Decimal(row[column])) for row in prices],
            currency=currency,
            effective_from=MENU_FROM,
            actor=SYSTEM,
        )
    ctx.extra["catalog"] = {
        "items": items,
        "menu": [sku for sku, *_rest in MENU] + [sku for sku, *_rest in RETAIL],
        "modifiers": [code for code, _name, _effects in MODIFIERS],
        "menu_from": MENU_FROM,
    }
