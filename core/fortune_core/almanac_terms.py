"""The words of the almanac engine (`fortune_core.almanac`), in zh-CN and en.

First the almanac's 宜/忌 activity terms for a modern reader: an English phrase, a short Chinese
gloss and topic tags for every term in lunar-python's table (`LunarUtil._LunarUtil__YI_JI`).
Then the phrase tables the readings are written from: romanisations, ten-god themes per aspect,
palaces, relations, 太岁, the almanac's spirits and officers, closings. Each phrase is a
``(zh, en)`` pair.

The tags decide which of a day's 宜/忌 items a reading lists first for a topic. ``medical`` terms
are never turned into "avoid" advice (an almanac taboo must not keep anyone from medical care), and
``meta`` terms (诸事不宜, 馀事勿取, 无) are not activities at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from fortune_core.ganzhi import BRANCHES, STEMS


@dataclass(frozen=True)
class Term:
    """One almanac activity: English phrase, Chinese modern gloss, topic tags."""

    en: str
    zh: str
    tags: tuple[str, ...]


def _t(en: str, zh: str, *tags: str) -> Term:
    return Term(en=en, zh=zh, tags=tags)


TERMS: dict[str, Term] = {
    # rites and blessings
    "祭祀": _t("honour your ancestors", "祭拜祖先、缅怀亲人", "ritual", "social"),
    "祈福": _t("make a wish or say a prayer for blessings", "许愿祈福", "ritual", "study"),
    "求嗣": _t("family planning, hoping for a child", "求子、计划添丁", "ritual", "love"),
    "开光": _t("consecrate a charm or statue", "为佛像饰物开光", "ritual"),
    "塑绘": _t("sculpt or paint images", "塑像、绘画", "craft", "study"),
    "齐醮": _t("hold a Taoist ceremony", "设坛作法事", "ritual"),
    "斋醮": _t("hold a Taoist fasting rite", "斋戒祈祷", "ritual"),
    "沐浴": _t("bathe, refresh and cleanse", "洗浴净身、放松休整", "health"),
    "酬神": _t("give thanks with an offering", "还愿谢神", "ritual"),
    "造庙": _t("build a temple or shrine", "建造庙宇", "build", "ritual"),
    "祀灶": _t("make an offering to the kitchen god", "祭灶神", "ritual", "home"),
    "焚香": _t("light incense and sit quietly", "焚香静心", "ritual", "health"),
    "谢土": _t("thank the earth after building work", "工程完工后谢土", "ritual", "build"),
    "出火": _t(
        "move the household altar before renovating", "装修前移出神位香火", "ritual", "home"
    ),
    "雕刻": _t("carving and engraving", "雕刻", "craft", "study"),
    # marriage and family
    "嫁娶": _t("weddings", "结婚、办婚礼", "love"),
    "订婚": _t("get engaged", "订婚", "love"),
    "纳采": _t("send betrothal gifts", "下聘礼、提亲", "love"),
    "问名": _t("formal introductions between two families", "提亲问名、两家相识", "love", "social"),
    "纳婿": _t("welcome a son-in-law into the family", "招婿入门", "love"),
    "归宁": _t("visit the bride's parents", "回娘家探亲", "love", "social"),
    "安床": _t("set up or move a bed", "安放、更换床铺", "home", "love", "health"),
    "合帐": _t("hang bed curtains, arrange the bedroom", "布置卧室、挂床帐", "home", "love"),
    "冠笄": _t("coming-of-age celebrations", "成人礼", "social", "study"),
    "订盟": _t("make agreements, form partnerships", "订立盟约、合作结盟", "career", "love"),
    "进人口": _t(
        "welcome new members to the household or team", "添丁进口、招人入伙", "home", "career"
    ),
    "裁衣": _t("make or buy new clothes", "裁制新衣、添置衣物", "love", "everyday"),
    "挽面": _t("facial grooming", "绞面修容", "love", "everyday"),
    "开容": _t("beauty care and grooming", "美容修饰", "love", "everyday"),
    # funerals and graves
    "修坟": _t("repair a family grave", "修整坟墓", "funeral"),
    "启钻": _t("exhume for reburial", "起棺迁葬", "funeral"),
    "破土": _t("break ground for a grave", "为坟地破土", "funeral"),
    "安葬": _t("burials", "安葬", "funeral"),
    "立碑": _t("erect a tombstone", "立墓碑", "funeral"),
    "成服": _t("put on mourning clothes", "穿孝服", "funeral"),
    "除服": _t("end a period of mourning", "除去孝服", "funeral"),
    "开生坟": _t("prepare a tomb in advance", "预造坟墓", "funeral"),
    "合寿木": _t("make a coffin in advance", "预制寿材", "funeral"),
    "入殓": _t("encoffining", "入殓", "funeral"),
    "移柩": _t("move a coffin", "移动灵柩", "funeral"),
    "普渡": _t("rites for wandering souls", "普渡法会", "ritual"),
    # home and building
    "入宅": _t("move into a new home", "搬入新居", "home"),
    "安香": _t("set up the family altar", "安放神位香案", "home", "ritual"),
    "安门": _t("install doors", "安装大门", "home", "build"),
    "修造": _t("renovations and repairs", "装修、维修房屋", "home", "build"),
    "起基": _t("lay foundations", "打地基", "build"),
    "动土": _t("break ground, start construction", "动土开工", "build"),
    "上梁": _t("raise the roof beam", "上梁", "build"),
    "竖柱": _t("erect pillars", "竖立柱子", "build"),
    "开井开池": _t("dig wells or ponds", "开挖水井池塘", "build"),
    "作陂放水": _t("build embankments and release water", "筑陂放水", "build", "farm"),
    "拆卸": _t("demolition, take things apart", "拆除、拆卸", "build", "home"),
    "破屋": _t("tear down a building", "拆房", "build"),
    "坏垣": _t("knock down walls", "拆墙", "build"),
    "补垣": _t("mend walls and fences", "修补围墙", "build", "home"),
    "伐木做梁": _t("fell timber for beams", "伐木做梁", "build"),
    "作灶": _t("build or refit a stove or kitchen", "修灶、装修厨房", "home", "build"),
    "解除": _t(
        "clear out and clean up, end what no longer serves",
        "清扫除旧、了结旧事",
        "home",
        "health",
        "everyday",
    ),
    "开柱眼": _t("drill post holes", "开凿柱眼", "build"),
    "穿屏扇架": _t("put up screens and partitions", "安装屏风隔断", "build", "home"),
    "盖屋合脊": _t("roof a house", "盖屋封顶", "build"),
    "开厕": _t("build a toilet", "修建厕所", "build"),
    "造仓": _t("build a storehouse", "建造仓库", "build", "wealth"),
    "塞穴": _t("seal holes and gaps", "堵塞洞穴缝隙", "home"),
    "平治道涂": _t("repair paths and roads", "修路平地", "build"),
    "造桥": _t("build a bridge", "造桥", "build"),
    "作厕": _t("build a toilet", "修建厕所", "build"),
    "筑堤": _t("build an embankment", "修筑堤坝", "build"),
    "开池": _t("dig a pond", "开挖池塘", "build"),
    "伐木": _t("fell trees", "砍伐树木", "build", "farm"),
    "开渠": _t("dig channels and ditches", "开挖沟渠", "build", "farm"),
    "掘井": _t("dig a well", "掘井", "build"),
    "扫舍": _t("clean the house thoroughly", "打扫房屋", "home", "health", "everyday"),
    "放水": _t("drain or release water", "放水", "farm"),
    "造屋": _t("build a house", "建房", "build"),
    "合脊": _t("finish the roof ridge", "屋顶合脊", "build"),
    "造畜稠": _t("build animal pens", "修建牲畜棚圈", "farm"),
    "修门": _t("repair doors", "修门", "home"),
    "定磉": _t("set column bases", "安放柱础", "build"),
    "作梁": _t("make roof beams", "制作房梁", "build"),
    "修饰垣墙": _t("redecorate and repaint walls", "粉刷装饰墙面", "home"),
    "架马": _t("set up scaffolding", "搭架子", "build"),
    # business and money
    "开市": _t(
        "open a business or launch something new", "开业、开张、新项目上线", "wealth", "career"
    ),
    "挂匾": _t("hang up a signboard, announce a venture", "挂招牌、对外发布", "career", "wealth"),
    "纳财": _t("collect payments, receive money", "收款、进账", "wealth"),
    "求财": _t("pursue income and business leads", "求财、洽谈生意", "wealth", "career"),
    "开仓": _t("release stock, open the storeroom", "开仓出货", "wealth"),
    "买车": _t("buy a car", "买车", "wealth"),
    "置产": _t("buy property", "购置房产", "wealth", "home"),
    "雇佣": _t("hire staff", "招聘、雇人", "career"),
    "出货财": _t("ship goods, make deliveries", "发货、出货", "wealth", "career"),
    "安机械": _t("install machinery or equipment", "安装机器设备", "career", "build"),
    "造车器": _t("build vehicles or tools", "制造车辆器具", "craft"),
    "经络": _t("set up looms and equipment, start weaving", "安装纺织机具、开工纺织", "craft"),
    "酝酿": _t("brew and ferment", "酿酒、发酵", "craft"),
    "作染": _t("dyeing", "染布", "craft"),
    "鼓铸": _t("metal casting", "冶炼铸造", "craft"),
    "造船": _t("build a boat", "造船", "craft"),
    "割蜜": _t("harvest honey", "割取蜂蜜", "farm"),
    "栽种": _t("planting and gardening", "种植、园艺", "farm", "health", "everyday"),
    "取渔": _t("go fishing", "捕鱼", "farm"),
    "结网": _t("make nets, build networks", "编网，也可引申为拓展人脉", "craft", "social"),
    "牧养": _t("tend animals", "饲养牲畜", "farm"),
    "安碓磑": _t("set up mills and grinders", "安装石碓石磨", "farm"),
    # study, body care, travel, people
    "习艺": _t("learn a craft or skill", "学习技艺", "study"),
    "入学": _t("start school or a course", "入学、开课", "study"),
    "理发": _t("get a haircut", "理发", "everyday", "health"),
    "探病": _t("visit someone who is ill", "探望病人", "social"),
    "见贵": _t("meet mentors and important people", "拜见贵人、面见上级", "career", "study"),
    "乘船": _t("take a boat trip", "乘船", "travel"),
    "渡水": _t("cross water", "渡河过水", "travel"),
    "针灸": _t("acupuncture with a qualified practitioner", "针灸（请找正规医师）", "medical"),
    "出行": _t("travel, set out on a trip", "出门、旅行", "travel", "everyday"),
    "移徙": _t("move house, relocate", "搬家、迁移", "home", "travel"),
    "分居": _t("set up a separate household", "分家另住", "home"),
    "剃头": _t("shave the head or get a haircut", "剃头", "everyday"),
    "整手足甲": _t("trim nails, manicure", "修剪指甲", "everyday", "health"),
    "纳畜": _t("bring home animals or a pet", "购入牲畜、领养宠物", "home", "farm"),
    "捕捉": _t("catch pests", "捕捉害虫", "home"),
    "畋猎": _t("hunting", "打猎", "farm"),
    "教牛马": _t("train animals", "训练牲畜", "farm"),
    "会亲友": _t("meet family and friends", "拜访亲友、聚会", "social", "love", "everyday"),
    "赴任": _t("start a new job, take up a post", "上任、入职", "career"),
    "求医": _t("see a doctor", "就医", "medical", "health"),
    "治病": _t("medical treatment", "治疗", "medical", "health"),
    "词讼": _t("lawsuits and disputes", "打官司、争讼", "legal"),
    "起基动土": _t("lay foundations, break ground", "打地基、动土", "build"),
    "破屋坏垣": _t("demolish buildings or walls", "拆房拆墙", "build"),
    "盖屋": _t("roof a house", "盖房顶", "build"),
    "造仓库": _t("build a warehouse", "建造仓库", "build", "wealth"),
    "立券交易": _t("sign contracts and trade", "签约、交易", "wealth", "career"),
    "交易": _t("trade and close deals", "买卖交易", "wealth", "career"),
    "立券": _t("sign contracts", "签订合同", "wealth", "career"),
    "安机": _t("install machines", "安装机器", "career", "build"),
    "会友": _t("meet friends", "会见朋友", "social", "love"),
    "求医疗病": _t("seek medical care", "求医治病", "medical", "health"),
    # not activities
    "诸事不宜": _t("nothing major: a day to rest", "诸事不宜，宜静养", "meta"),
    "馀事勿取": _t("nothing beyond the above", "其余事项不宜", "meta"),
    "行丧": _t("funeral proceedings", "办丧事", "funeral"),
    "断蚁": _t("pest control, deal with ants and termites", "除白蚁、灭虫", "home"),
    "归岫": _t("return home and retreat for a while", "归隐静修", "ritual"),
    "无": _t("none", "无", "meta"),
}

#: tags listed first for each topic, most relevant first
TOPIC_TAGS: dict[str, tuple[str, ...]] = {
    "overall": ("everyday", "social", "travel", "wealth", "career", "love", "home", "health"),
    "career": ("career", "wealth", "social", "study", "travel"),
    "love": ("love", "social", "everyday", "home"),
    "wealth": ("wealth", "career", "home"),
    "health": ("health", "everyday", "home", "travel"),
    "study": ("study", "career", "social", "everyday"),
}
#: tags listed last (rarely what a modern reader plans for)
LATE_TAGS: tuple[str, ...] = ("farm", "craft", "ritual", "build", "funeral")


def relevance(term: str, topic: str) -> int:
    """Sort key: lower is more relevant to `topic`; unknown terms go last."""
    entry = TERMS.get(term)
    if entry is None:
        return 99
    wanted = TOPIC_TAGS.get(topic, ())
    ranks = [wanted.index(tag) for tag in entry.tags if tag in wanted]
    if ranks:
        return min(ranks)
    late = [LATE_TAGS.index(tag) for tag in entry.tags if tag in LATE_TAGS]
    if late:
        return 50 + max(late)
    return 20


# --- phrases of the readings ----------------------------------------------------------------------

STEM_PINYIN = dict(
    zip(STEMS, ("Jia", "Yi", "Bing", "Ding", "Wu", "Ji", "Geng", "Xin", "Ren", "Gui"), strict=True)
)
BRANCH_PINYIN = dict(
    zip(
        BRANCHES,
        ("Zi", "Chou", "Yin", "Mao", "Chen", "Si", "Wu", "Wei", "Shen", "You", "Xu", "Hai"),
        strict=True,
    )
)
BRANCH_ANIMAL_ZH = dict(zip(BRANCHES, "鼠牛虎兔龙蛇马羊猴鸡狗猪", strict=True))
TEN_GOD_PINYIN = {
    "比肩": "Bi Jian",
    "劫财": "Jie Cai",
    "食神": "Shi Shen",
    "伤官": "Shang Guan",
    "偏财": "Pian Cai",
    "正财": "Zheng Cai",
    "七杀": "Qi Sha",
    "正官": "Zheng Guan",
    "偏印": "Pian Yin",
    "正印": "Zheng Yin",
}
TEN_GOD_KEYWORD: dict[str, tuple[str, str]] = {
    "比肩": ("同辈与自立", "peers and self-reliance"),
    "劫财": ("竞争与人情", "competition and give-and-take"),
    "食神": ("表达与享受", "expression and enjoyment"),
    "伤官": ("才华与锋芒", "flair and a sharp edge"),
    "偏财": ("机遇之财", "opportunities and windfalls"),
    "正财": ("稳定收入", "steady income"),
    "七杀": ("压力与魄力", "pressure and boldness"),
    "正官": ("规则与名誉", "rules and recognition"),
    "偏印": ("独立领悟", "insight and introspection"),
    "正印": ("学习与庇护", "learning and support"),
}
TEN_GOD_THEME: dict[str, tuple[str, str]] = {
    "比肩": (
        "比肩主同辈与自我，力量在于独立和并肩作战，也意味着资源要与人分享",
        "it stands for peers and self-reliance: strength in standing on your own and working "
        "side by side, and also in sharing what you have",
    ),
    "劫财": (
        "劫财主竞争与人情往来，行动力强，但花销与争夺也多",
        "it stands for competition and give-and-take: plenty of drive, but also more spending "
        "and rivalry",
    ),
    "食神": (
        "食神主表达、享受与才艺，心情舒展，适合分享与创作",
        "it stands for expression, enjoyment and talent: a relaxed mood that suits sharing and "
        "creating",
    ),
    "伤官": (
        "伤官主才华外露与突破常规，灵感多，但言语容易锋利",
        "it stands for brilliance and breaking the mould: many ideas, but words can come out sharp",
    ),
    "偏财": (
        "偏财主机会之财与人缘，流动性强，来得快也去得快",
        "it stands for opportunity money and popularity: things move fast, in and out",
    ),
    "正财": (
        "正财主稳定收入与踏实经营，重在按部就班、收支有度",
        "it stands for steady income and careful management: step by step, within your means",
    ),
    "七杀": (
        "七杀主压力与魄力，挑战当前，也是展现担当的机会",
        "it stands for pressure and boldness: a challenge in front of you, and a chance to "
        "show what you can carry",
    ),
    "正官": (
        "正官主规则、职位与名誉，利于守正做事、赢得认可",
        "it stands for rules, position and reputation: doing things properly earns recognition",
    ),
    "偏印": (
        "偏印主独特的领悟与内省，适合钻研、独处思考",
        "it stands for unusual insight and introspection: good for deep study and thinking alone",
    ),
    "正印": (
        "正印主学习、庇护与贵人，心安而有依靠",
        "it stands for learning, protection and mentors: a sense of being supported",
    ),
}
#: ten god → aspect → (zh, en)
TEN_GOD_ASPECT: dict[str, dict[str, tuple[str, str]]] = {
    "比肩": {
        "career": (
            "同事与伙伴的力量可借，分工合作比单打独斗更顺",
            "colleagues are an asset; dividing the work beats going it alone",
        ),
        "love": (
            "双方容易各执己见，多给对方留一点空间",
            "both of you may hold your ground, so leave the other a little room",
        ),
        "wealth": (
            "钱财容易与人分享或被分薄，合伙、借贷宜先讲清",
            "money tends to be shared or split; agree terms before lending or pooling funds",
        ),
        "health": ("精力较足，适合规律运动", "energy is good and regular exercise suits you"),
        "study": ("与同学互相督促，效果更好", "studying alongside peers keeps you on track"),
    },
    "劫财": {
        "career": (
            "竞争感强，守住自己的成果，少与人争一时长短",
            "competition is in the air; protect your work and skip the petty contests",
        ),
        "love": (
            "旁人意见或旧人旧事可能带来波动，坦诚沟通为上",
            "outside opinions or old ties may stir things up, and honest talk helps most",
        ),
        "wealth": (
            "冲动消费、人情开销的倾向明显，大额支出宜缓",
            "there is a pull towards impulse spending, so put large purchases on hold",
        ),
        "health": (
            "行动快，运动和出行中留意磕碰",
            "you move fast; take care against knocks and strains",
        ),
        "study": (
            "有冲劲但易分心，给自己定一个小目标",
            "lots of drive but easily distracted, so set yourself one small goal",
        ),
    },
    "食神": {
        "career": (
            "表达与创意受欢迎，适合展示作品、做分享",
            "ideas and presentations land well, so show your work",
        ),
        "love": (
            "气氛轻松，适合约会、一起吃顿好的",
            "the mood is easy: good for a date or a shared meal",
        ),
        "wealth": (
            "凭手艺和口碑来财，细水长流",
            "income comes through skill and word of mouth, steady rather than sudden",
        ),
        "health": ("心情舒畅，饮食有节即可", "spirits are good; just keep meals moderate"),
        "study": ("理解力和兴趣都在线，适合学新东西", "curiosity is high: learn something new"),
    },
    "伤官": {
        "career": (
            "灵感多，但易与上级或规则起摩擦，说话留三分",
            "plenty of ideas, but friction with bosses or rules, so choose your words",
        ),
        "love": ("言辞容易伤人，先听后说", "words can sting: listen first, then speak"),
        "wealth": (
            "可凭创意、副业找到财路，但不宜冒进",
            "creative or side projects can pay, but don't overreach",
        ),
        "health": (
            "思虑多、易上火，给自己留出放松时间",
            "a busy mind runs hot, so schedule time to unwind",
        ),
        "study": (
            "思维活跃，适合写作、创作与解难题",
            "a lively mind: good for writing, making things and hard problems",
        ),
    },
    "偏财": {
        "career": (
            "人脉带来机会，适合拓展客户、对外联络",
            "connections bring openings: reach out to clients and contacts",
        ),
        "love": (
            "人缘好、社交多，单身者有结识新朋友的机会",
            "you are sociable and well liked; if single, you may meet someone new",
        ),
        "wealth": (
            "可能有额外进账或机会，但来得快去得也快，见好就收",
            "extra income or openings may appear, but they go as fast as they come",
        ),
        "health": ("应酬多时注意作息", "with many social plans, protect your sleep"),
        "study": ("外务多，学习容易被打断", "outside matters may interrupt your study"),
    },
    "正财": {
        "career": (
            "踏实做事有回报，适合处理具体事务和收尾",
            "steady work pays off: finish concrete tasks",
        ),
        "love": (
            "感情重在稳定与照顾，适合一起规划实际的事",
            "love is about steadiness and care; plan practical things together",
        ),
        "wealth": (
            "正当收入平稳，适合记账、收款、理清预算",
            "regular income is steady: a good time to do the books, collect what is owed "
            "and review the budget",
        ),
        "health": ("生活规律，状态平稳", "a regular routine keeps you steady"),
        "study": ("偏重实务，学习宜结合实际应用", "practical focus: tie learning to real tasks"),
    },
    "七杀": {
        "career": (
            "压力与挑战来临，也是展现魄力、承担重任的时机",
            "pressure and challenges arrive, and with them the moment to show you can lead",
        ),
        "love": (
            "情绪容易紧绷，别把压力带给身边的人",
            "tension runs high; don't carry stress into your relationships",
        ),
        "wealth": (
            "开销可能因突发事务增加，预留余地",
            "unexpected obligations may cost you, so keep a buffer",
        ),
        "health": (
            "压力偏大，注意休息与放松，别硬撑",
            "stress is high: rest, and don't push through exhaustion",
        ),
        "study": ("适合攻克难点、迎接考验", "a good time to tackle the hardest part or sit a test"),
    },
    "正官": {
        "career": (
            "利于职位、名誉与被认可，按规矩办事最顺",
            "good for position, reputation and recognition; working by the rules goes smoothest",
        ),
        "love": (
            "感情讲究责任与承诺，适合认真谈谈未来",
            "love asks for responsibility and commitment: talk seriously about the future",
        ),
        "wealth": ("收入来自本职，稳健为主", "income comes from your main work; keep it steady"),
        "health": ("作息规律则精神稳定", "keep to your routine and your energy stays even"),
        "study": ("适合考试、申请与正式学习", "good for exams, applications and formal study"),
    },
    "偏印": {
        "career": (
            "适合独立研究、规划与钻研技术，不宜强出头",
            "good for independent research, planning and technical depth rather than the spotlight",
        ),
        "love": (
            "容易想得多、说得少，主动表达心意",
            "you may think a lot and say little, so tell them how you feel",
        ),
        "wealth": ("财运平平，不宜冲动投入", "money is quiet; don't commit on impulse"),
        "health": (
            "留意情绪与睡眠，静坐、散步有益",
            "mind your mood and sleep; quiet time and walks help",
        ),
        "study": (
            "悟性强，适合钻研冷门知识、深度阅读",
            "insight is strong: good for deep reading and niche subjects",
        ),
    },
    "正印": {
        "career": (
            "易得上级、长辈扶持，适合请教与进修",
            "seniors and mentors are on your side: ask for advice and keep learning",
        ),
        "love": ("被关心、被照顾，感情温和", "you are cared for: a gentle time in love"),
        "wealth": (
            "重学习而轻钱财，花在学习上值得",
            "learning matters more than money now, and spending on it is worthwhile",
        ),
        "health": ("身心得到滋养，适合调养休息", "a nourishing time, good for rest and recovery"),
        "study": (
            "学习运最佳，吸收快、记得牢",
            "the best sign for study: you absorb and retain well",
        ),
    },
}
TEN_GOD_DO: dict[str, tuple[str, str]] = {
    "比肩": ("与伙伴分工合作", "team up and split the work"),
    "劫财": ("按自己的节奏做事", "keep to your own pace"),
    "食神": ("分享作品，约朋友吃顿饭", "share your work, share a meal"),
    "伤官": ("把灵感写下来，动手创作", "write your ideas down and make something"),
    "偏财": ("跟进人脉和新机会", "follow up leads and contacts"),
    "正财": ("记账、收款、理清预算", "do the books and collect what is owed"),
    "七杀": ("先做最难的那件事", "tackle the hardest task first"),
    "正官": ("按流程办事，争取认可", "follow procedure and put yourself forward"),
    "偏印": ("留出独处思考、深度阅读的时间", "make time for quiet thinking and deep reading"),
    "正印": ("向前辈请教，报名学习", "ask a mentor, sign up to learn"),
}
TEN_GOD_AVOID: dict[str, tuple[str, str]] = {
    "比肩": ("与朋友合伙借钱", "lending money to friends"),
    "劫财": ("冲动消费、意气之争", "impulse buys and ego contests"),
    "食神": ("暴饮暴食、过度放纵", "overindulging"),
    "伤官": ("顶撞上级、口无遮拦", "arguing with the boss, careless words"),
    "偏财": ("投机冒进、轻信快钱", "speculation and too-good-to-be-true offers"),
    "正财": ("随手的大额支出", "casual big spending"),
    "七杀": ("硬撑透支、与人正面冲突", "running on empty, head-on confrontations"),
    "正官": ("走捷径、违反规定", "shortcuts that bend the rules"),
    "偏印": ("闷在心里、胡思乱想", "brooding and second-guessing"),
    "正印": ("事事依赖他人", "leaning on others for everything"),
}
PALACE_NAME: dict[str, tuple[str, str]] = {
    "year": ("年支（长辈、家族与大环境）", "year branch (elders, family, the wider world)"),
    "month": ("月支（父母兄弟、工作环境）", "month branch (parents, siblings, your workplace)"),
    "day": ("日支（夫妻宫，也代表自身）", "day branch (the spouse palace, also yourself)"),
    "hour": ("时支（子女晚辈、计划与成果）", "hour branch (children, juniors, plans and results)"),
}
RELATION_NAME: dict[str, tuple[str, str]] = {
    "clash": ("相冲（六冲）", "clashes (chong) with"),
    "combine": ("相合（六合）", "combines (liu he) with"),
    "trine": ("半合（三合之二）", "forms a half-trine (ban he) with"),
    "harm": ("相害（六害）", "harms (hai)"),
    "punish": ("相刑", "punishes (xing)"),
}
#: relation kind → palace → (zh, en) effect
RELATION_EFFECT: dict[str, dict[str, tuple[str, str]]] = {
    "clash": {
        "year": (
            "与长辈或外部环境容易有变动，出行宜妥善安排",
            "expect changes around elders or the wider world, and plan travel carefully",
        ),
        "month": (
            "工作环境有变动或摩擦，重要决定宜多核对",
            "movement or friction at work, so double-check important decisions",
        ),
        "day": (
            "伴侣之间、自身情绪易起波动，多一分耐心",
            "moods at home and within yourself can swing, so bring extra patience",
        ),
        "hour": (
            "计划容易被打乱，与晚辈沟通宜温和",
            "plans may get reshuffled; be gentle with juniors and children",
        ),
    },
    "combine": {
        "year": ("长辈、贵人助力，外部关系和顺", "help from elders and well-placed people"),
        "month": ("同事合作融洽，工作推进顺畅", "smooth cooperation at work"),
        "day": ("感情和合，亲密关系升温", "harmony in love, and closeness grows"),
        "hour": (
            "计划落地顺利，与晚辈互动愉快",
            "plans come together, and time with juniors goes well",
        ),
    },
    "trine": {
        "year": ("人际网络互相呼应", "your wider network rallies round"),
        "month": ("团队协作有默契", "team work clicks"),
        "day": ("心意相通，默契提升", "you and those close to you are in tune"),
        "hour": ("想法容易得到响应", "your ideas find support"),
    },
    "harm": {
        "year": ("留意与长辈间的小误会", "watch for small misunderstandings with elders"),
        "month": ("同事间暗中较劲，少议论是非", "quiet rivalry at work, so stay out of gossip"),
        "day": ("小事易生芥蒂，及时说开", "small things can rankle, so talk them through"),
        "hour": ("计划细节易出纰漏，多检查一遍", "details may slip, so check twice"),
    },
    "punish": {
        "year": ("规矩与人情之间易起摩擦", "friction between rules and relationships"),
        "month": ("工作中易遇规则、手续上的麻烦", "red tape and procedural snags at work"),
        "day": (
            "对自己或伴侣要求过严，放松一点",
            "you may be hard on yourself or your partner, so ease up",
        ),
        "hour": ("急于求成反而拖慢，按步骤来", "rushing slows you down, so go step by step"),
    },
}
PALACE_AVOID: dict[str, tuple[str, str]] = {
    "year": ("冒险远行、与长辈硬碰", "risky trips and run-ins with elders"),
    "month": ("仓促跳槽或拍板重大决定", "rushed job changes or big decisions at work"),
    "day": ("与伴侣争一时之气", "winning arguments with your partner"),
    "hour": ("临时改变大计划", "last-minute changes to big plans"),
}
SUMMARY_RELATION: dict[str, dict[str, tuple[str, str]]] = {
    "clash": {
        "year": ("冲动年支，外部多变", "a clash with your year branch stirs the wider world"),
        "month": ("冲动月支，工作多变", "a clash with your month branch stirs things at work"),
        "day": ("冲动夫妻宫，情绪易起伏", "a clash with your spouse palace can unsettle moods"),
        "hour": ("冲动时支，计划易变", "a clash with your hour branch can reshuffle plans"),
    },
    "combine": {
        "year": ("合住年支，贵人相助", "a combination with your year branch brings helpers"),
        "month": ("合住月支，合作顺畅", "a combination with your month branch eases team work"),
        "day": ("合住夫妻宫，感情和顺", "a combination with your spouse palace warms love"),
        "hour": ("合住时支，计划易成", "a combination with your hour branch helps plans land"),
    },
}
SUMMARY_TAI_SUI: dict[str, tuple[str, str]] = {
    "same": ("本命年值太岁", "it is your own zodiac year (Tai Sui)"),
    "clash": ("流年冲太岁", "your sign clashes with Tai Sui"),
    "punish": ("流年刑太岁", "your sign punishes Tai Sui"),
    "harm": ("流年害太岁", "your sign harms Tai Sui"),
    "break": ("流年破太岁", "your sign breaks with Tai Sui"),
    "combine": ("流年合太岁", "your sign combines with Tai Sui"),
    "trine": ("流年三合太岁", "your sign is in a trine with Tai Sui"),
}
TAI_SUI_NAME: dict[str, tuple[str, str]] = {
    "same": ("值太岁（本命年）", "meets its own Tai Sui (zhi tai sui: your ben ming nian)"),
    "clash": ("冲太岁", "clashes with Tai Sui (chong tai sui)"),
    "punish": ("刑太岁", "punishes Tai Sui (xing tai sui)"),
    "harm": ("害太岁", "harms Tai Sui (hai tai sui)"),
    "break": ("破太岁", "breaks with Tai Sui (po tai sui)"),
    "combine": ("合太岁", "combines with Tai Sui (he tai sui)"),
    "trine": ("三合太岁", "forms a trine with Tai Sui (san he)"),
}
STRENGTH_NAME = {
    "strong": ("身强", "strong"),
    "balanced": ("中和", "balanced"),
    "weak": ("身弱", "weak"),
}
ASPECT_NAME: dict[str, tuple[str, str]] = {
    "overall": ("整体", "overall"),
    "career": ("事业", "career"),
    "love": ("感情", "love"),
    "wealth": ("财运", "wealth"),
    "health": ("健康", "health"),
    "study": ("学业", "study"),
}
BANDS: tuple[tuple[int, str, str], ...] = (
    (82, "极佳", "excellent"),
    (70, "顺遂", "favourable"),
    (58, "平稳", "steady"),
    (46, "有起伏", "mixed"),
    (0, "偏弱，宜守不宜攻", "subdued, a time to hold steady"),
)
TIAN_SHEN_EN = {
    "青龙": "Azure Dragon",
    "明堂": "Bright Hall",
    "天刑": "Heavenly Punishment",
    "朱雀": "Vermilion Bird",
    "金匮": "Golden Coffer",
    "天德": "Heavenly Virtue",
    "白虎": "White Tiger",
    "玉堂": "Jade Hall",
    "天牢": "Heavenly Prison",
    "玄武": "Black Tortoise",
    "司命": "Life Governor",
    "勾陈": "Hook Array",
}
ZHI_XING_EN = {
    "建": "Establish",
    "除": "Remove",
    "满": "Full",
    "平": "Level",
    "定": "Settle",
    "执": "Hold",
    "破": "Break",
    "危": "Danger",
    "成": "Complete",
    "收": "Harvest",
    "开": "Open",
    "闭": "Close",
}
SOLAR_TERM_EN = {
    "小寒": "Minor Cold",
    "大寒": "Major Cold",
    "立春": "Start of Spring",
    "雨水": "Rain Water",
    "惊蛰": "Awakening of Insects",
    "春分": "Spring Equinox",
    "清明": "Clear and Bright",
    "谷雨": "Grain Rain",
    "立夏": "Start of Summer",
    "小满": "Grain Buds",
    "芒种": "Grain in Ear",
    "夏至": "Summer Solstice",
    "小暑": "Minor Heat",
    "大暑": "Major Heat",
    "立秋": "Start of Autumn",
    "处暑": "End of Heat",
    "白露": "White Dew",
    "秋分": "Autumn Equinox",
    "寒露": "Cold Dew",
    "霜降": "Frost's Descent",
    "立冬": "Start of Winter",
    "小雪": "Minor Snow",
    "大雪": "Major Snow",
    "冬至": "Winter Solstice",
}
SHA_EN = {"北": "north", "南": "south", "东": "east", "西": "west"}
WEEKDAY_ZH = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
WEEKDAY_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
#: aspect → (what to do when it scores 60 or more, what to do when it scores less)
ASPECT_ACTION: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "career": (
        (
            "推进关键任务，主动向相关的人同步进展",
            "push key tasks forward and keep the people who matter updated",
        ),
        ("把精力放在收尾和打磨细节上", "put your energy into finishing and polishing"),
    ),
    "love": (
        ("表达心意，或安排一次用心的约会", "say what you feel, or plan a thoughtful date"),
        (
            "多倾听、少争辩，温柔比讲道理更管用",
            "listen more and argue less; warmth works better than being right",
        ),
    ),
    "wealth": (
        ("整理收支，跟进应收款项", "review income and spending, and follow up what you are owed"),
        (
            "守住预算，推迟非必要的大额开销",
            "hold to the budget and postpone non-essential big spending",
        ),
    ),
    "health": (
        ("开始一个温和的运动习惯", "start a gentle exercise habit"),
        ("给自己多留一些休息时间", "give yourself extra rest"),
    ),
    "study": (
        ("攻读新内容，安排考试或申请", "take on new material, exams or applications"),
        ("以复习巩固为主", "review and consolidate rather than start something new"),
    ),
}
WELLBEING_TIPS: tuple[tuple[str, str], ...] = (
    ("早点睡，多喝水", "an early night and plenty of water"),
    ("饭后散步二十分钟", "a twenty-minute walk after meals"),
    ("每坐一小时起身伸展几分钟", "a few minutes of stretching for every hour you sit"),
    ("少熬夜，少刷屏", "less late-night scrolling"),
    ("三餐定时，清淡为主", "regular, simple meals"),
)
CLOSINGS: tuple[tuple[str, str], ...] = (
    (
        "命理所示只是一种倾向，日子怎样过，仍由你自己决定。",
        "An almanac shows tendencies, not verdicts: how the days go is still yours to shape.",
    ),
    (
        "把这份解读当作一面镜子：顺时多做一点，逆时多留一步，主动权始终在你手里。",
        "Treat this reading as a mirror: lean in when the tide is with you, hold back a step "
        "when it is not, and remember the choices are yours.",
    ),
    (
        "运势有起有落，善待自己与身边的人，便是最好的开运方式。",
        "Fortunes rise and fall; being kind to yourself and those around you is the best "
        "luck there is.",
    ),
)

COLOURS: dict[str, tuple[str, str]] = {
    "wood": ("青绿色", "green"),
    "fire": ("红色", "red"),
    "earth": ("黄色", "yellow"),
    "metal": ("白色、金色", "white or gold"),
    "water": ("黑色、深蓝色", "black or navy blue"),
}

#: relation kinds (fortune_core.relations) → (zh, en) names, for the luck paragraph
LUCK_RELATION_NAME: dict[str, tuple[str, str]] = {
    "stem-combine": ("天干相合", "a stem combination (wu he)"),
    "combine": ("六合", "a combination (liu he)"),
    "clash": ("六冲", "a clash (chong)"),
    "three-punishment": ("三刑", "the three punishments (san xing)"),
    "punish": ("相刑", "a punishment (xing)"),
    "self-punish": ("自刑", "a self-punishment (zi xing)"),
    "harm": ("六害", "a harm (hai)"),
    "break": ("六破", "a break (po)"),
    "trine": ("三合", "a three-harmony frame (san he)"),
    "half-trine": ("半合", "a half-trine (ban he)"),
    "arch": ("拱合", "an arching combination (gong he)"),
    "meeting": ("三会", "a seasonal meeting (san hui)"),
}
#: pillar labels of a relation → (zh, en) names
PILLAR_NAME: dict[str, tuple[str, str]] = {
    "year": ("年柱", "year pillar"),
    "month": ("月柱", "month pillar"),
    "day": ("日柱", "day pillar"),
    "hour": ("时柱", "hour pillar"),
    "daYun": ("大运", "luck pillar"),
    "liuNian": ("流年", "year's pillar"),
}
