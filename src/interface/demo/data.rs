//! The story's words and figures: names of people, communities and bureaus, enterprises'
//! industries in Chinese, each category's hazard places and findings, incident places, summaries
//! and causes, the injury scenarios surveillance sees and the promotion projects' targets with
//! their usual measures. Data only: no draws, no commands.

pub(super) const SURNAMES: [&str; 16] =
    ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭"];
pub(super) const GIVEN: [&str; 16] = [
    "建国", "秀英", "伟", "芳", "海燕", "志强", "丽", "军", "敏", "红梅", "国华", "静", "小平", "春生", "桂兰", "德明",
];
pub(super) const URBAN_NAMES: [&str; 12] =
    ["城关", "东城", "西城", "南湖", "北苑", "新华", "人民路", "解放路", "滨江", "东风", "长安", "和平"];
pub(super) const RURAL_NAMES: [&str; 10] =
    ["石桥", "柳河", "杨庄", "青山", "白沙", "桃源", "马集", "龙泉", "河口", "三里"];
pub(super) const ENTERPRISE_NAMES: [&str; 6] = ["化工园区", "钢铁集团", "港务集团", "煤机集团", "经开区", "纺织集团"];
pub(super) const BUREAUS: [&str; 4] = ["bureau-01", "bureau-02", "bureau-03", "bureau-04"];

pub(super) fn industry_zh(code: &str) -> &'static str {
    match code {
        "hazardous_chemicals" => "化工",
        "metallurgy" => "冶金",
        "manufacturing" => "机械制造",
        "transport" => "物流运输",
        "commerce" => "商贸",
        "construction" => "建筑工程",
        "agriculture" => "农业开发",
        "mining" => "矿业",
        "fireworks" => "烟花爆竹",
        _ => "综合服务",
    }
}

pub(super) fn hazard_text(category: &str, variant: u64) -> (&'static str, &'static str) {
    let options: [(&str, &str); 3] = match category {
        "fire" => [
            ("住宅楼楼道", "电动自行车楼道停放充电"),
            ("沿街商铺", "疏散通道堆放杂物，灭火器过期"),
            ("小区地下车库", "消防喷淋系统故障未修复"),
        ],
        "electricity" => [
            ("老旧小区配电箱", "线路老化、私拉乱接"),
            ("生产车间", "配电柜未接地，绝缘破损"),
            ("农贸市场", "临时用电未设漏电保护"),
        ],
        "road_traffic" => {
            [("学校门口路段", "缺少减速带和警示标志"), ("村道急弯", "护栏缺失"), ("交叉路口", "信号灯故障")]
        }
        "construction" => {
            [("在建工地", "脚手架连墙件缺失"), ("基坑周边", "临边防护不到位"), ("塔吊作业区", "限位装置失灵")]
        }
        "public_place" => [("商场中庭", "安全出口锁闭"), ("广场", "大型活动无安保方案"), ("电梯间", "电梯超期未检")],
        "water" => [("村边池塘", "无防护栏和警示牌"), ("河道", "救生设施缺失"), ("水库", "游泳禁区标识损坏")],
        "home" => {
            [("独居老人家中", "燃气软管老化"), ("出租屋", "群租房隔断使用易燃材料"), ("居民楼", "阳台堆放易燃物")]
        }
        "production" => {
            [("冲压车间", "冲床安全防护装置失效"), ("仓库", "货架超载、通道堵塞"), ("有限空间", "作业未检测通风")]
        }
        "hazardous_chemicals" => {
            [("储罐区", "可燃气体报警器失效"), ("装卸站台", "静电接地装置缺失"), ("危化品仓库", "禁忌物料混存")]
        }
        "special_equipment" => {
            [("锅炉房", "压力表超期未校验"), ("行车作业区", "起重机钢丝绳断丝超标"), ("厂区", "叉车无证驾驶")]
        }
        _ => [("现场", "安全管理制度不落实"), ("现场", "安全警示标志缺失"), ("现场", "应急预案未演练")],
    };
    options[(variant % 3) as usize]
}

pub(super) fn incident_place(category: &str) -> &'static str {
    match category {
        "road_traffic" => "国道路口",
        "fire" => "居民楼",
        "water" => "村边池塘",
        "production" | "special_equipment" => "企业生产车间",
        "construction" => "在建工地",
        "hazardous_chemicals" => "化工园区储罐区",
        "elderly_fall" | "home" => "居民家中",
        "school_child" => "学校操场",
        "agricultural_machinery" => "田间道路",
        "pesticide_poisoning" => "农田",
        _ => "公共场所",
    }
}

pub(super) fn incident_summary(category: &str) -> &'static str {
    match category {
        "road_traffic" => "两车相撞，造成人员伤亡",
        "fire" => "室内电气线路故障引发火灾",
        "water" => "未成年人私自下水游泳溺水",
        "production" => "作业人员被机械设备卷入",
        "construction" => "高处作业人员坠落",
        "special_equipment" => "起重机械吊物坠落",
        "hazardous_chemicals" => "储罐检修时发生泄漏中毒",
        "elderly_fall" => "老年人在家中跌倒",
        "pesticide_poisoning" => "喷洒农药未做防护中毒",
        _ => "发生意外伤害事件",
    }
}

pub(super) fn incident_cause(category: &str) -> &'static str {
    match category {
        "road_traffic" => "驾驶人超速行驶、未按规定让行",
        "fire" => "电气线路老化短路引燃可燃物",
        "production" | "special_equipment" => "违章作业，安全防护装置失效，安全管理不到位",
        "construction" => "未按规定系挂安全带，临边防护缺失",
        "hazardous_chemicals" => "检修作业未执行特殊作业审批，未进行气体检测",
        _ => "安全意识淡薄，防护措施缺失",
    }
}

/// One kind of injury as surveillance sees it.
#[derive(Clone, Copy)]
pub(super) struct Scenario {
    pub(super) weight: u64,
    pub(super) category: &'static str,
    pub(super) mechanism: &'static str,
    pub(super) place: &'static str,
    pub(super) activity: &'static str,
    pub(super) natures: &'static [&'static str],
    pub(super) body_parts: &'static [&'static str],
    pub(super) age: (u16, u16),
    pub(super) p_death: f64,
}

pub(super) const SCENARIOS: [Scenario; 12] = [
    Scenario {
        weight: 24,
        category: "elderly_fall",
        mechanism: "fall",
        place: "home",
        activity: "vital",
        natures: &["fracture", "sprain", "bruise"],
        body_parts: &["lower_limb", "trunk", "head"],
        age: (65, 94),
        p_death: 0.01,
    },
    Scenario {
        weight: 20,
        category: "road_traffic",
        mechanism: "traffic",
        place: "road",
        activity: "travel",
        natures: &["fracture", "open_wound", "concussion", "bruise"],
        body_parts: &["multiple", "head", "lower_limb"],
        age: (6, 78),
        p_death: 0.03,
    },
    Scenario {
        weight: 10,
        category: "production",
        mechanism: "machinery",
        place: "workplace",
        activity: "paid_work",
        natures: &["open_wound", "fracture"],
        body_parts: &["upper_limb"],
        age: (19, 58),
        p_death: 0.01,
    },
    Scenario {
        weight: 6,
        category: "construction",
        mechanism: "fall",
        place: "workplace",
        activity: "paid_work",
        natures: &["fracture", "concussion"],
        body_parts: &["multiple", "lower_limb"],
        age: (22, 60),
        p_death: 0.03,
    },
    Scenario {
        weight: 8,
        category: "school_child",
        mechanism: "fall",
        place: "school",
        activity: "education",
        natures: &["sprain", "bruise", "fracture"],
        body_parts: &["upper_limb", "lower_limb"],
        age: (6, 15),
        p_death: 0.0,
    },
    Scenario {
        weight: 4,
        category: "water",
        mechanism: "drowning",
        place: "water",
        activity: "leisure",
        natures: &["organ", "other"],
        body_parts: &["systemic"],
        age: (5, 16),
        p_death: 0.35,
    },
    Scenario {
        weight: 9,
        category: "home",
        mechanism: "cut",
        place: "home",
        activity: "unpaid_work",
        natures: &["open_wound"],
        body_parts: &["upper_limb"],
        age: (12, 80),
        p_death: 0.0,
    },
    Scenario {
        weight: 4,
        category: "fire",
        mechanism: "burn_fire",
        place: "home",
        activity: "vital",
        natures: &["burn"],
        body_parts: &["multiple", "upper_limb"],
        age: (2, 85),
        p_death: 0.04,
    },
    Scenario {
        weight: 3,
        category: "electricity",
        mechanism: "electric",
        place: "home",
        activity: "unpaid_work",
        natures: &["burn"],
        body_parts: &["upper_limb"],
        age: (18, 70),
        p_death: 0.05,
    },
    Scenario {
        weight: 3,
        category: "pesticide_poisoning",
        mechanism: "poisoning",
        place: "farm",
        activity: "paid_work",
        natures: &["poisoning"],
        body_parts: &["systemic"],
        age: (30, 72),
        p_death: 0.04,
    },
    Scenario {
        weight: 5,
        category: "public_security",
        mechanism: "struck",
        place: "public_place",
        activity: "leisure",
        natures: &["bruise", "open_wound"],
        body_parts: &["head", "trunk"],
        age: (18, 50),
        p_death: 0.01,
    },
    Scenario {
        weight: 4,
        category: "agricultural_machinery",
        mechanism: "machinery",
        place: "farm",
        activity: "paid_work",
        natures: &["fracture", "open_wound"],
        body_parts: &["upper_limb", "lower_limb"],
        age: (35, 70),
        p_death: 0.02,
    },
];

/// A promotion project's target and its usual measures.
#[derive(Clone, Copy)]
pub(super) struct Target {
    pub(super) name: &'static str,
    pub(super) category: Option<&'static str>,
    pub(super) group: Option<&'static str>,
    pub(super) place: Option<&'static str>,
    pub(super) objective: &'static str,
    pub(super) indicator: &'static str,
    pub(super) measures: &'static [&'static str],
}

pub(super) const URBAN_TARGETS: [Target; 3] = [
    Target {
        name: "老年人跌倒预防项目",
        category: Some("elderly_fall"),
        group: Some("elderly"),
        place: Some("home"),
        objective: "降低65岁以上老年人居家跌倒发生率",
        indicator: "老年人跌倒就诊人次/年",
        measures: &["居家环境适老化改造", "防跌倒健康讲座", "平衡能力训练班", "发放防滑垫和夜灯", "高风险老人入户评估"],
    },
    Target {
        name: "电动自行车消防安全项目",
        category: Some("fire"),
        group: None,
        place: Some("home"),
        objective: "杜绝电动自行车入户充电引发的火灾",
        indicator: "电动自行车火灾起数/年",
        measures: &["建设集中充电棚", "楼道清理专项行动", "消防安全入户宣传", "安装烟感报警器"],
    },
    Target {
        name: "校园周边交通安全项目",
        category: Some("road_traffic"),
        group: Some("child"),
        place: Some("school"),
        objective: "减少学生上下学交通伤害",
        indicator: "学生交通伤害人次/年",
        measures: &["护学岗", "增设减速带与警示标志", "交通安全课进课堂", "家长接送文明倡议"],
    },
];

pub(super) const RURAL_TARGETS: [Target; 3] = [
    Target {
        name: "防溺水安全项目",
        category: Some("water"),
        group: Some("left_behind_child"),
        place: Some("water"),
        objective: "杜绝中小学生溺水死亡",
        indicator: "儿童溺水人次/年",
        measures: &["危险水域设置护栏和警示牌", "暑期巡河护学", "留守儿童防溺水教育", "配置救生圈救生杆"],
    },
    Target {
        name: "农药安全使用项目",
        category: Some("pesticide_poisoning"),
        group: None,
        place: None,
        objective: "减少农药中毒",
        indicator: "农药中毒人次/年",
        measures: &["农药统一存放柜", "安全用药培训", "防护用品发放"],
    },
    Target {
        name: "农机安全项目",
        category: Some("agricultural_machinery"),
        group: None,
        place: Some("road"),
        objective: "减少农机事故伤害",
        indicator: "农机伤害人次/年",
        measures: &["农机年检上门服务", "驾驶员培训", "粘贴反光标识"],
    },
];

pub(super) const ENTERPRISE_TARGETS: [Target; 3] = [
    Target {
        name: "外来务工人员职业安全项目",
        category: Some("production"),
        group: Some("migrant_worker"),
        place: Some("workplace"),
        objective: "降低一线员工工伤发生率",
        indicator: "工伤人次/年",
        measures: &["岗前三级安全教育", "设备本质安全改造", "班组安全活动", "隐患随手拍"],
    },
    Target {
        name: "危险化学品仓储安全项目",
        category: Some("hazardous_chemicals"),
        group: None,
        place: Some("warehouse"),
        objective: "消除危化品仓储重大隐患",
        indicator: "危化品仓储隐患数/年",
        measures: &["仓库分区分类改造", "可燃气体报警联网", "应急演练"],
    },
    Target {
        name: "建筑施工高处坠落预防项目",
        category: Some("construction"),
        group: Some("migrant_worker"),
        place: Some("construction_site"),
        objective: "减少高处坠落事故",
        indicator: "高处坠落人次/年",
        measures: &["临边洞口标准化防护", "安全带智能监测", "实名制安全培训"],
    },
];
